import type { AddressInfo } from 'node:net';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import type { Logger } from '../../core/log.js';
import type { HttpExchangeRecorder } from '../../recording/sink.js';
import type { TcpSessionRecorder } from '../../recording/tcp-recorder.js';
import type { LeafContexts } from '../../tls/index.js';
import { HttpProxyServer, type HttpLimits, type HttpProxyObserver, type HttpTimeouts } from '../http/index.js';
import type { TcpProxyObserver } from '../tcp/index.js';
import type { ForwardAccess, SelfCheck } from './access.js';
import { ConnectHandler } from './connect.js';
import { hostMatcher } from './host-patterns.js';
import type { ForwardObserver } from './options.js';
import { ForwardRouter } from './router.js';
import { resolveAll } from './self-guard.js';

/**
 * The forward-proxy listener of a Record node (HTTP_PROXY / HTTPS_PROXY). One HttpProxyServer
 * serves it all: absolute-form requests on the listener, and the decrypted connections of
 * intercepted CONNECTs handed to it by the ConnectHandler — so every exchange runs through the
 * reverse proxy's code (streaming, limits, timeouts, smuggling checks, fail-open recording), only
 * routed per origin by the ForwardRouter.
 *
 * @module
 */

export interface ForwardProxyOptions {
  host: string;
  port: number;
  access: ForwardAccess;
  /** Leaf certificates from the CA; null = every CONNECT is tunnelled. */
  certificates: LeafContexts | null;
  tunnelHosts: readonly string[];
  /** Extra trusted roots for the real hosts (PEM), on top of Node's bundled list. */
  upstreamCa?: string | Buffer;
  insecureUpstream: boolean;
  limits: HttpLimits;
  timeouts: HttpTimeouts;
  /** The node's own listeners: never a destination. */
  isSelf: SelfCheck;
  recorder: HttpExchangeRecorder;
  tunnelRecorder: TcpSessionRecorder;
  httpObserver: HttpProxyObserver;
  tcpObserver: TcpProxyObserver;
  observer: ForwardObserver;
  logger: Logger;
}

/** Trust for the real hosts: Node's bundled roots plus the extra CA, built once (parsing ~140 roots per dial would cost milliseconds). */
export function upstreamContext(extraCa: string | Buffer | undefined): SecureContext | undefined {
  return extraCa === undefined ? undefined : createSecureContext({ ca: [...rootCertificates, extraCa.toString()] });
}

export class ForwardProxyServer {
  private readonly http: HttpProxyServer;
  private readonly connect: ConnectHandler;

  constructor(o: ForwardProxyOptions) {
    if (o.insecureUpstream) o.logger.warn({}, 'forward.insecure_upstream is on: the real hosts\' certificates are NOT verified; use it in test setups only');
    const router = new ForwardRouter({
      access: o.access,
      isSelf: o.isSelf,
      upstreamContext: upstreamContext(o.upstreamCa),
      rejectUnauthorized: !o.insecureUpstream,
      timeouts: o.timeouts,
      observer: o.observer,
      logger: o.logger,
    });
    let http: HttpProxyServer | null = null;
    this.connect = new ConnectHandler(
      {
        access: o.access,
        certificates: o.certificates,
        tunnelHosts: hostMatcher(o.tunnelHosts),
        sink: { accept: (socket, info) => http!.accept(socket, info) },
        handshakeMs: o.timeouts.headerReadMs,
        observer: o.observer,
        resolve: resolveAll,
        logger: o.logger,
      },
      {
        host: o.host,
        port: o.port,
        timeouts: { connectMs: o.timeouts.downstreamConnectMs, idleMs: o.timeouts.downstreamIdleMs, handshakeMs: o.timeouts.headerReadMs },
        maxConnections: 0,
        recorder: o.tunnelRecorder,
        observer: o.tcpObserver,
        logger: o.logger,
      },
    );
    http = new HttpProxyServer({
      host: o.host,
      port: o.port,
      router,
      onConnect: this.connect.handle,
      downstreamTls: { rejectUnauthorized: !o.insecureUpstream },
      trustedProxies: [],
      limits: o.limits,
      timeouts: o.timeouts,
      recorder: o.recorder,
      observer: o.httpObserver,
      logger: o.logger,
    });
    this.http = http;
  }

  /** Exchanges and tunnels not finished yet. */
  get inFlight(): number {
    return this.http.inFlight + this.connect.openTunnels;
  }

  /** Binds host:port; rejects with ListenError (QP_ERR_LISTEN). */
  listen(): Promise<AddressInfo> {
    return this.http.listen();
  }

  /** Stop accepting; responses from now close their connections. */
  beginDrain(): void {
    this.http.beginDrain();
  }

  /** Drains exchanges up to the deadline, then ends tunnels and what is left. Idempotent. */
  async close(deadlineMs: number): Promise<void> {
    await this.http.close(deadlineMs);
    this.connect.close();
  }
}
