import type { Socket } from 'node:net';
import type { Endpoint } from '../../discovery/index.js';
import { TcpSession, type DialFailure, type SessionHost, type TcpDownstreams, type TcpProxyOptions } from '../tcp/index.js';
import { rawAnswer } from './answer.js';

/**
 * A CONNECT that is not intercepted: a byte tunnel to the requested host, run by the TCP proxy's
 * session (relay with backpressure and half-close, recorded as a TCP record whose `downstream` is
 * the CONNECT target). The dial comes first: only once it is up does the client get `200`, and a
 * target that cannot be reached gets 502 (504 for a timeout) with nothing relayed.
 *
 * @module
 */

/** The one endpoint of a tunnel: the address that passed the loop check, named by the CONNECT target. */
class TunnelTarget implements TcpDownstreams {
  private readonly endpoint: Endpoint;

  constructor(host: string, address: string, port: number) {
    const shown = host.includes(':') ? `[${host}]` : host;
    this.endpoint = { key: `${shown}:${port}`, target: { host, port, tls: false, label: `${shown}:${port}` }, address, port, active: 0 };
  }

  pick(exclude?: ReadonlySet<string>): Endpoint | null {
    return exclude?.has(this.endpoint.key) === true ? null : this.endpoint;
  }

  acquire(): () => void {
    return () => undefined;
  }

  reportSuccess(): void {}
  reportFailure(): void {}
}

/** Options every tunnel shares: the TCP session settings without the downstreams. */
export type TunnelOptions = Omit<TcpProxyOptions, 'downstreams'>;

/**
 * Runs one tunnel; `done` is called once the session is recorded and closed. `answered`: the client
 * already has its 200 (an intercepted CONNECT that turned out to be neither TLS nor HTTP), so a
 * dial that fails can only close the connection.
 */
export function startTunnel(client: Socket, head: Buffer, host: string, address: string, port: number, answered: boolean, base: TunnelOptions, done: () => void): TcpSession {
  const host_: SessionHost = {
    opts: { ...base, downstreams: new TunnelTarget(host, address, port) },
    sessionEnded: () => done(),
    connected(socket: Socket) {
      if (!answered) socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      // Bytes the client sent right after its CONNECT belong to the tunnel.
      if (head.length > 0) socket.unshift(head);
    },
    dialFailed(socket: Socket, failure: DialFailure) {
      if (answered) return;
      const timeout = failure.reason === 'connect_timeout';
      socket.write(rawAnswer(timeout ? 504 : 502, failure.error.message, timeout ? 'QP_ERR_DOWNSTREAM_TIMEOUT' : 'QP_ERR_DOWNSTREAM_CONNECT'));
    },
  };
  const session = new TcpSession(host_, client, client, null);
  session.start();
  return session;
}
