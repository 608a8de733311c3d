/**
 * TCP fixtures for the playback tests: real `redis-server` processes on loopback, a tiny RESP
 * client, and the real TcpProxyServer recording into a Store.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import type { TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import { Discovery, parseTcpTarget } from '../../src/discovery/index.js';
import { TcpProxyServer } from '../../src/proxy/tcp/index.js';
import type { TcpProxyObserver } from '../../src/proxy/tcp/index.js';
import type { AppProtocol } from '../../src/recording/model.js';
import { TcpRecorder } from '../../src/recording/tcp-recorder.js';
import type { Store } from '../../src/store/index.js';
import { defer } from './helpers.js';
import { freePort } from '../helpers/ports.js';


async function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface Redis {
  port: number;
  target: string;
}

/** Starts an empty redis-server (no persistence, `extra` settings) on a free loopback port; stopped after the test. */
export async function startRedis(t: TestContext, dir: string, extra: readonly string[] = []): Promise<Redis> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const child: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extra], {
      stdio: 'ignore',
    });
    const exited = once(child, 'exit');
    defer(t, async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    });
    for (let i = 0; i < 300 && child.exitCode === null; i++) {
      if (await canConnect(port)) return { port, target: `127.0.0.1:${port}` };
      await delay(10);
    }
    // The port was taken between choosing and binding it: try another one.
  }
  throw new Error('redis-server did not start');
}

/** RESP encoding of one command. */
export function resp(...args: string[]): Buffer {
  return Buffer.from(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`);
}

/** A connection that sends a command and reads one complete reply at a time. */
export class RespClient {
  private buffer = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, d]);
      this.waiter?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
    socket.on('error', () => undefined);
  }

  static async open(port: number): Promise<RespClient> {
    const s = connect({ host: '127.0.0.1', port });
    await once(s, 'connect');
    return new RespClient(s);
  }

  /** Sends a command and returns its raw reply (null when the server closed instead). */
  async call(...args: string[]): Promise<string | null> {
    this.socket.write(resp(...args));
    for (let i = 0; i < 500; i++) {
      const end = replyLength(this.buffer);
      if (end > 0) {
        const reply = this.buffer.subarray(0, end).toString();
        this.buffer = this.buffer.subarray(end);
        return reply;
      }
      if (this.closed) return null;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 20);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    throw new Error(`no reply to ${args.join(' ')}`);
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.socket.end();
    return once(this.socket, 'close').then(() => undefined);
  }
}

/** Length of the first complete RESP reply in `b` (simple types, bulk strings, flat arrays), or 0. */
function replyLength(b: Buffer): number {
  const line = b.indexOf('\r\n');
  if (line < 0) return 0;
  const type = String.fromCharCode(b[0]!);
  if (type === '+' || type === '-' || type === ':') return line + 2;
  const n = Number(b.subarray(1, line).toString());
  if (type === '$') return n < 0 ? line + 2 : b.length >= line + 2 + n + 2 ? line + 2 + n + 2 : 0;
  if (type === '*') {
    let at = line + 2;
    for (let i = 0; i < n; i++) {
      const len = replyLength(b.subarray(at));
      if (len === 0) return 0;
      at += len;
    }
    return at;
  }
  return 0;
}

const quiet: TcpProxyObserver = { session() {}, bytes() {}, rejected() {} };

/** The real TCP proxy in front of `target`, recording sessions into `store`; closed after the test. */
export async function startTcpProxy(
  t: TestContext,
  target: string,
  store: Store,
  opts: { appProtocol?: AppProtocol; maxSessionBytes?: number } = {},
): Promise<{ port: number; close(): Promise<void> }> {
  const discovery = new Discovery({
    targets: [parseTcpTarget(target)],
    policy: 'round_robin',
    resolveIntervalMs: 0,
    healthCheck: null,
    passive: { consecutiveFailures: 5, baseEjectionMs: 30_000, maxEjectionMs: 300_000 },
  });
  await discovery.start();
  const recorder = new TcpRecorder({
    enabled: true,
    nodeId: 'az-a-1',
    appProtocol: opts.appProtocol ?? null,
    maxSessionBytes: opts.maxSessionBytes ?? 1024 * 1024,
    segmentIntervalMs: 1_000,
    segmentBytes: 256 * 1024,
    sink: store,
  });
  const proxy = new TcpProxyServer({
    host: '127.0.0.1',
    port: 0,
    downstreams: discovery,
    timeouts: { connectMs: 2_000, idleMs: 30_000, handshakeMs: 5_000 },
    maxConnections: 0,
    recorder,
    observer: quiet,
    logger: pino({ level: 'silent' }),
  });
  const { port } = await proxy.listen();
  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await proxy.close(1_000);
      await discovery.close();
    })();
    return closing;
  };
  defer(t, close);
  return { port, close };
}
