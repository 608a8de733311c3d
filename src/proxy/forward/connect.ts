import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { TLSSocket, type SecureContext } from 'node:tls';
import { errorCode, errorMessage } from '../../core/errors.js';
import { isMintableHost, normalizeHost, type LeafContexts } from '../../tls/index.js';
import { describeSocket, normalizeAddress } from '../http/index.js';
import type { TcpSession } from '../tcp/index.js';
import { PROXY_AUTHENTICATE, type Denial } from './access.js';
import { rawAnswer } from './answer.js';
import { FIRST_BYTES_WAIT_MS, readFirstBytes } from './first-bytes.js';
import type { ConnectOptions } from './options.js';
import { splitAuthority } from './origin.js';
import { startTunnel, type TunnelOptions } from './tunnel.js';

/**
 * `CONNECT host:port` on the forward listener. In order: the target must parse, the client must be
 * allowed (address, credentials), the port must be allowed, and the target must not resolve to this
 * node. Then either
 *
 *   intercept: 200, then the client's first bytes decide (first-bytes.ts):
 *              - a TLS ClientHello: TLS with a leaf certificate for the host (SNI, else the CONNECT
 *                host), ALPN h2 and http/1.1; the decrypted connection goes to the HTTP engine
 *                (`sink`), which records its exchanges like the reverse proxy's;
 *              - an HTTP/1.x request line: the plain connection goes to the same engine, its
 *                exchanges recorded and forwarded as `http://host:port`;
 *              - anything else, or silence past the wait (server-speaks-first protocols): the byte
 *                tunnel below, the 200 already sent;
 *   tunnel:    dial first, then 200 and a byte relay recorded as a TCP session (tunnel_hosts, or
 *              no CA configured).
 *
 * Every refusal is a JSON answer on the raw socket, counted and logged; nothing a client sends
 * here can throw out of the handler.
 *
 * @module
 */

const TLS_ALPN = ['h2', 'http/1.1'];

export class ConnectHandler {
  private readonly tunnels = new Set<TcpSession>();
  private readonly pending = new Set<Socket>();
  private closed = false;

  constructor(
    private readonly o: ConnectOptions,
    /** How tunnels run; null refuses them (a Playback node serves recordings and reaches no real host). */
    private readonly tunnelOptions: TunnelOptions | null,
  ) {}

  /** The `connect` listener of the forward listener's HTTP server. */
  readonly handle = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const client = socket as Socket;
    client.on('error', (err) => this.o.logger.debug({ err: errorMessage(err) }, 'forward proxy: CONNECT client socket failed'));
    this.serve(req, client, head).catch((err: unknown) => {
      this.o.logger.error({ err: errorMessage(err) }, 'forward proxy failed to handle a CONNECT');
      client.destroy();
    });
  };

  /** Open tunnels (for drain). */
  get openTunnels(): number {
    return this.tunnels.size;
  }

  /** Stops taking CONNECTs; open tunnels and handshakes end now (their records are written). */
  close(): void {
    this.closed = true;
    for (const t of this.tunnels) t.shutdown();
    for (const s of this.pending) s.destroy();
  }

  private async serve(req: IncomingMessage, client: Socket, head: Buffer): Promise<void> {
    const address = normalizeAddress(client.remoteAddress ?? '');
    const target = req.url ?? '';
    if (this.closed) return this.deny(client, address, target, { reason: 'target', status: 403, message: 'the proxy is shutting down' });
    const hp = splitAuthority(target, null);
    if (hp === null) return this.deny(client, address, target, { reason: 'target', status: 403, message: `CONNECT needs host:port, got ${JSON.stringify(target.slice(0, 100))}` });
    const denied = this.o.access.checkClient(address, req.rawHeaders) ?? this.o.access.checkPort(hp.port);
    if (denied !== null) return this.deny(client, address, target, denied);
    const tunnel = this.o.certificates === null || this.o.tunnelHosts(hp.host);
    if (tunnel && this.tunnelOptions === null) {
      return this.deny(client, address, target, { reason: 'target', status: 403, message: `${hp.host} is a tunnel host; a Playback node only answers intercepted requests from recordings` });
    }
    let addresses: string[];
    try {
      addresses = await this.o.resolve(hp.host);
    } catch (err) {
      if (tunnel) return this.fail(client, 502, `cannot resolve ${hp.host} (${errorCode(err) || errorMessage(err)})`, 'QP_ERR_DOWNSTREAM_CONNECT');
      // An intercepted request to a name that does not resolve fails on its own, recorded (502).
      addresses = [];
    }
    const loop = this.o.access.checkDestination(addresses, hp.port, target);
    if (loop !== null) return this.deny(client, address, target, loop);
    if (client.destroyed) return;
    if (tunnel) return this.tunnel(client, head, hp.host, addresses[0]!, hp.port, false);
    return this.intercept(client, head, hp.host, addresses[0], hp.port);
  }

  /** `answered`: the client already has its 200 (an intercepted CONNECT whose first bytes are neither TLS nor HTTP). */
  private tunnel(client: Socket, head: Buffer, host: string, address: string, port: number, answered: boolean): void {
    this.o.observer.connect('tunnel');
    let session: TcpSession | null = null;
    session = startTunnel(client, head, host, address, port, answered, this.tunnelOptions!, () => {
      if (session !== null) this.tunnels.delete(session);
    });
    this.tunnels.add(session);
  }

  private async intercept(client: Socket, head: Buffer, host: string, address: string | undefined, port: number): Promise<void> {
    const certs = this.o.certificates!;
    const name = normalizeHost(host);
    let context: SecureContext;
    try {
      context = await certs.contextFor(name);
    } catch (err) {
      return this.fail(client, 502, `no certificate can be made for ${host}: ${errorMessage(err)}`, 'QP_ERR_CA_HOST');
    }
    if (client.destroyed) return;
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    this.pending.add(client);
    const first = await readFirstBytes(client, head, this.o.firstBytesMs ?? FIRST_BYTES_WAIT_MS);
    this.pending.delete(client);
    if (first.kind === 'closed' || client.destroyed) return void client.destroy();
    // Whoever serves the connection reads these bytes again (the TLSSocket feeds them to its handshake).
    if (first.data.length > 0) client.unshift(first.data);
    if (first.kind === 'tls') return this.handshake(client, context, certs, host, name, port);
    if (first.kind === 'http') {
      this.o.observer.connect('intercept');
      const info = describeSocket(client, null);
      info.connect = { host: name, port };
      // The HTTP server takes this socket a second time (it read the CONNECT on it), so the socket
      // carries a second set of the server's listeners; a WebSocket relay on top then passes
      // Node's default of 10 'close' listeners without leaking any.
      client.setMaxListeners(client.getMaxListeners() + 10);
      return this.o.sink.accept(client, info);
    }
    if (this.tunnelOptions === null || address === undefined) {
      this.o.logger.debug({ host, port, first: first.kind }, 'forward proxy: an intercepted CONNECT sent neither TLS nor HTTP and cannot be tunnelled here; closing it');
      return void client.destroy();
    }
    this.tunnel(client, Buffer.alloc(0), host, address, port, true);
  }

  private handshake(client: Socket, context: SecureContext, certs: LeafContexts, host: string, name: string, port: number): void {
    this.o.observer.connect('intercept');
    const tls = new TLSSocket(client, {
      isServer: true,
      secureContext: context,
      ALPNProtocols: TLS_ALPN,
      SNICallback: (servername, cb) => {
        const sni = normalizeHost(servername);
        // A name no certificate can carry gets the CONNECT host's; the client decides what it trusts.
        if (sni === name || !isMintableHost(sni)) return cb(null, context);
        certs.contextFor(sni).then((c) => cb(null, c), (err: Error) => cb(err, undefined));
      },
    });
    this.pending.add(client);
    const timer = setTimeout(() => tls.destroy(), this.o.handshakeMs);
    let state: 'handshake' | 'secure' | 'failed' = 'handshake';
    const failed = (err: Error | null): void => {
      if (state !== 'handshake') return;
      state = 'failed';
      clearTimeout(timer);
      this.pending.delete(client);
      this.o.observer.handshake(false);
      this.o.logger.debug({ host, err: err === null ? 'closed or timed out during the handshake' : errorMessage(err), code: errorCode(err) }, 'forward proxy: client TLS handshake failed');
      tls.destroy();
    };
    // After the handshake the HTTP engine owns the socket and handles its errors; this listener
    // stays so that none can go unhandled in between.
    tls.on('error', (err: Error) => failed(err));
    tls.once('close', () => failed(null));
    tls.once('secure', () => {
      if (state !== 'handshake') return;
      state = 'secure';
      // A tls.Server clears this before 'secureConnection'; a TLSSocket made by hand keeps it set,
      // and an HTTP/2 session would then wait for a 'secureConnect' that servers never emit.
      (tls as TLSSocket & { secureConnecting: boolean }).secureConnecting = false;
      clearTimeout(timer);
      this.pending.delete(client);
      this.o.observer.handshake(true);
      const info = describeSocket(tls, null);
      info.client = { address: normalizeAddress(client.remoteAddress ?? ''), port: client.remotePort ?? 0 };
      info.connect = { host: name, port };
      this.o.sink.accept(tls, info);
    });
  }

  private deny(client: Socket, address: string, target: string, d: Denial): void {
    this.o.observer.denied(d.reason);
    this.o.logger.info({ client: address, target: target.slice(0, 300), reason: d.reason }, `forward proxy refused a CONNECT: ${d.message}`);
    const code = d.status === 407 ? 'QP_ERR_PROXY_AUTH' : 'QP_ERR_FORWARD_DENIED';
    client.end(rawAnswer(d.status, d.message, code, d.status === 407 ? PROXY_AUTHENTICATE : []));
  }

  private fail(client: Socket, status: number, message: string, code: string): void {
    this.o.logger.debug({ err: message }, 'forward proxy: CONNECT target unreachable');
    client.end(rawAnswer(status, message, code));
  }
}
