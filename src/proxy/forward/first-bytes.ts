import type { Socket } from 'node:net';

/**
 * What a client sends first inside an intercepted CONNECT, read before anything is committed to
 * (as mitmproxy does): a TLS record (0x16, a ClientHello) is intercepted with the CA; a complete
 * HTTP/1.x request line (`METHOD SP target SP HTTP/1.x CRLF`) is served as plain HTTP to
 * `http://host:port`; anything else — and a client that sends nothing within the wait, as the
 * clients of server-speaks-first protocols (SMTP, MySQL, FTP) do — goes to the byte tunnel.
 *
 * The whole request line is required, not just a method and a space, so that text protocols whose
 * commands look alike (`SET a b` in Redis's inline form) are not taken for HTTP.
 *
 * @module
 */

export type FirstBytes = 'tls' | 'http' | 'other';

/** How long a client may stay silent after `200 Connection Established` before its CONNECT is tunnelled. */
export const FIRST_BYTES_WAIT_MS = 1000;

/** Longest method token looked for (the registered methods are at most 17 characters). */
const MAX_METHOD = 32;
/** A request line longer than this (a long target) is taken for HTTP; the HTTP engine applies its limits. */
const MAX_LINE = 16 * 1024;
const VERSION = Buffer.from('HTTP/1.');

/** RFC 9110 tchar. */
function isTchar(b: number): boolean {
  if ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a)) return true;
  return b < 0x80 && "!#$%&'*+-.^_`|~".includes(String.fromCharCode(b));
}

/** Classifies the first bytes, or null when more are needed to tell. */
export function classifyFirstBytes(buf: Buffer): FirstBytes | null {
  if (buf.length === 0) return null;
  if (buf[0] === 0x16) return 'tls';
  let i = 0;
  while (i < buf.length && i <= MAX_METHOD && isTchar(buf[i]!)) i++;
  if (i === buf.length) return i > MAX_METHOD ? 'other' : null;
  if (i === 0 || i > MAX_METHOD || buf[i] !== 0x20) return 'other';
  const targetStart = ++i;
  // The target: visible characters (bytes above 0x7e are left for the HTTP parser to judge).
  while (i < buf.length && buf[i]! > 0x20 && buf[i] !== 0x7f) i++;
  if (i === buf.length) return i >= MAX_LINE ? 'http' : null;
  if (i === targetStart || buf[i] !== 0x20) return 'other';
  i++;
  for (let v = 0; v < VERSION.length; v++, i++) {
    if (i === buf.length) return null;
    if (buf[i] !== VERSION[v]) return 'other';
  }
  if (i === buf.length) return null;
  if (buf[i]! < 0x30 || buf[i]! > 0x39) return 'other';
  i++;
  if (i === buf.length) return null;
  if (buf[i] === 0x0a) return 'http';
  if (buf[i] !== 0x0d) return 'other';
  i++;
  if (i === buf.length) return null;
  return buf[i] === 0x0a ? 'http' : 'other';
}

/** What {@link readFirstBytes} saw: a kind, `silent` (nothing within the wait) or `closed`, and the bytes it read. */
export interface FirstRead {
  kind: FirstBytes | 'silent' | 'closed';
  data: Buffer;
}

/**
 * Reads from a fresh (not flowing) socket until its first bytes can be classified, the wait ends
 * or the client leaves. The bytes are handed back, not consumed: the caller puts them back with
 * `socket.unshift` for whoever serves the connection.
 */
export function readFirstBytes(socket: Socket, head: Buffer, waitMs: number): Promise<FirstRead> {
  const early = classifyFirstBytes(head);
  if (early !== null) return Promise.resolve({ kind: early, data: head });
  return new Promise((resolve) => {
    const chunks: Buffer[] = head.length > 0 ? [head] : [];
    let size = head.length;
    const finish = (kind: FirstRead['kind']): void => {
      clearTimeout(timer);
      socket.removeListener('readable', onReadable);
      socket.removeListener('end', onGone);
      socket.removeListener('close', onGone);
      resolve({ kind, data: Buffer.concat(chunks, size) });
    };
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while ((chunk = socket.read() as Buffer | null) !== null) {
        chunks.push(chunk);
        size += chunk.length;
      }
      const kind = classifyFirstBytes(Buffer.concat(chunks, size));
      if (kind !== null) finish(kind);
    };
    const onGone = (): void => finish('closed');
    // Bytes that do not tell within the wait (a partial request line) are not HTTP that can be served.
    const timer = setTimeout(() => finish(size === 0 ? 'silent' : 'other'), waitMs);
    socket.on('readable', onReadable);
    socket.once('end', onGone);
    socket.once('close', onGone);
  });
}
