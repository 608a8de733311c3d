import { STATUS_CODES } from 'node:http';
import { errorBody } from '../http/index.js';

/**
 * A complete HTTP/1.1 answer written straight to a CONNECT socket (no HTTP server owns it any
 * more): JSON body `{"error", "code"}` like every QProxy-made answer, and the connection closes.
 */
export function rawAnswer(status: number, error: string, code: string, extra: readonly string[] = []): string {
  const body = errorBody(error, code);
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n`;
  for (let i = 0; i + 1 < extra.length; i += 2) head += `${extra[i]}: ${extra[i + 1]}\r\n`;
  return `${head}\r\n${body}`;
}
