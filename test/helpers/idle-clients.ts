import { once } from 'node:events';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { connect as tlsConnect } from 'node:tls';

/**
 * Clients that connect and then send nothing (or a few bytes) and never close: what a scanner, a
 * slowloris or a connection flood looks like. Every socket reads, so a FIN from the server is seen;
 * `closedByServer` counts the sockets the *server* ended, since the test never ends them itself
 * until `destroy()`.
 */
export interface IdleClients {
  readonly sockets: readonly Socket[];
  /** Sockets that connected (the server's kernel completed the handshake; the server may refuse them after accept). */
  readonly connected: number;
  /** Sockets whose connection the server closed (or reset). */
  closedByServer(): number;
  /** Bytes the server sent on socket `i` before closing it. */
  received(i: number): Buffer;
  /** Waits (bounded poll) until the server closed all of them; throws naming how many are left. */
  waitAllClosed(boundMs?: number): Promise<void>;
  destroy(): void;
}

export interface IdleOptions {
  host?: string;
  /** Source address (any of 127.0.0.0/8 on Linux), to look like another client machine. */
  localAddress?: string;
  /** Bytes each client sends once connected, e.g. half a request head; default nothing. */
  send?: string | Buffer;
  /** Connections opened before yielding to the event loop (default 50): a listener in this process accepts them all in between, so its accept queue never overflows. */
  burst?: number;
}

/** Opens `n` connections to `port` and resolves once each one connected or failed. */
export async function openIdleClients(port: number, n: number, o: IdleOptions = {}): Promise<IdleClients> {
  const sockets: Socket[] = [];
  const chunks: Buffer[][] = [];
  let closed = 0;
  let connected = 0;
  let destroying = false;
  const settled: Promise<void>[] = [];
  const burst = o.burst ?? 50;
  for (let i = 0; i < n; i++) {
    const socket = connect({ host: o.host ?? '127.0.0.1', port, ...(o.localAddress !== undefined && { localAddress: o.localAddress }) });
    const mine: Buffer[] = [];
    chunks.push(mine);
    sockets.push(socket);
    socket.on('data', (c: Buffer) => mine.push(c));
    socket.on('error', () => {});
    socket.once('close', () => {
      if (!destroying) closed++;
    });
    settled.push(
      new Promise<void>((resolve) => {
        socket.once('connect', () => {
          connected++;
          if (o.send !== undefined) socket.write(o.send);
          resolve();
        });
        socket.once('close', () => resolve());
      }),
    );
    if (i % burst === burst - 1) await delay(1);
  }
  await Promise.all(settled);
  return {
    sockets,
    connected,
    closedByServer: () => closed,
    received: (i) => Buffer.concat(chunks[i] ?? []),
    async waitAllClosed(boundMs = 15_000) {
      const until = Date.now() + boundMs;
      while (closed < n) {
        if (Date.now() > until) throw new Error(`the server closed ${closed} of ${n} idle connections within ${boundMs} ms`);
        await delay(20);
      }
    },
    destroy() {
      destroying = true;
      for (const s of sockets) s.destroy();
    },
  };
}

/** Polls `cond` every 20 ms until it holds; throws after `boundMs` naming `what`. */
export async function waitUntil(cond: () => boolean, what: string | (() => string), boundMs = 15_000): Promise<void> {
  const until = Date.now() + boundMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await delay(20);
  }
}

/**
 * A TLS client (server name localhost) that completes the handshake, sends nothing, and resolves
 * with what the server sent once the server closed the connection.
 */
export async function silentAfterHandshake(port: number, ca: string, alpn?: string[]): Promise<Buffer> {
  const socket = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost', ...(alpn && { ALPNProtocols: alpn }) });
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => {});
  await once(socket, 'secureConnect');
  await once(socket, 'close');
  return Buffer.concat(chunks);
}

/**
 * Slow clients against an HTTP listener: `silent` connections that send nothing and `half` that
 * send half a request head. Waits (bounded) until the server closed every one of them, and
 * returns what the first of each kind received.
 */
export async function slowClientsAnswered(port: number, counts = { silent: 100, half: 20 }, boundMs = 10_000): Promise<{ silent: string; half: string }> {
  const silent = await openIdleClients(port, counts.silent);
  const half = await openIdleClients(port, counts.half, { send: 'GET /half HTTP/1.1\r\nHost: 127.0.0.1\r\n' });
  try {
    await silent.waitAllClosed(boundMs);
    await half.waitAllClosed(boundMs);
    return { silent: silent.received(0).toString('latin1'), half: half.received(0).toString('latin1') };
  } finally {
    silent.destroy();
    half.destroy();
  }
}
