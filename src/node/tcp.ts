/**
 * Builds the Record-mode TCP proxy from the config: its Discovery (downstream addresses, balancing,
 * health checks), its TcpRecorder and the TcpProxyServer. The node owns the lifecycle of what it
 * gets back: `proxy.listen()`, then on shutdown `proxy.beginDrain()`, `proxy.close(deadline)`,
 * `discovery.close()`, before the store closes.
 */
import { ConfigError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import { Discovery, parseTcpTarget } from '../discovery/index.js';
import type { DiscoveryTarget, HealthCheckOptions } from '../discovery/index.js';
import type { QProxyConfig } from '../config/schema.js';
import { TcpProxyServer } from '../proxy/tcp/index.js';
import type { TcpDownstreamTls, TcpListenerTls, TcpProxyObserver } from '../proxy/tcp/index.js';
import type { RecorderObserver } from '../recording/recorder.js';
import type { SelectionObserver } from '../recording/selector.js';
import type { RecordSink } from '../recording/sink.js';
import { TcpRecorder } from '../recording/tcp-recorder.js';
import { createRecordingSelector } from './recording-selection.js';
import { readPem } from './tls-files.js';

/** A client's TLS handshake on the TCP listener must finish within this, or tcp.timeouts.idle if shorter. */
export const TCP_HANDSHAKE_MAX_MS = 15_000;

/** What the TCP proxy takes from the rest of the node. */
export interface TcpProxyDeps {
  /** `metrics.tcp` observes the proxy, `metrics.recorder` counts recording drops and skips (a Metrics fits). */
  metrics: { tcp: TcpProxyObserver; recorder: RecorderObserver & SelectionObserver };
  /** Where session records go (the Store). */
  sink: RecordSink;
  logger: Logger;
}

/** The built proxy and the Discovery behind it (its `snapshot()` belongs in /api/status). */
export interface TcpProxyParts {
  proxy: TcpProxyServer;
  discovery: Discovery;
}

/**
 * Reads the certificates, resolves the downstreams (and runs the first health checks when they
 * are on), and builds the proxy. Nothing listens yet.
 *
 * @throws ConfigError when the config has no `tcp` section or a PEM file cannot be read.
 * @throws QProxyError `QP_ERR_DISCOVERY` when no downstream host name resolves.
 */
export async function createTcpProxy(config: QProxyConfig, deps: TcpProxyDeps): Promise<TcpProxyParts> {
  const tcp = config.tcp;
  if (tcp === undefined) throw new ConfigError('the TCP proxy needs a "tcp" section with a port and a downstream');
  const listenerTls: TcpListenerTls | undefined = tcp.tls && {
    cert: readPem(tcp.tls.tls_cert, 'tcp.tls.tls_cert'),
    key: readPem(tcp.tls.tls_key, 'tcp.tls.tls_key'),
    ...(tcp.tls.ca !== undefined ? { ca: readPem(tcp.tls.ca, 'tcp.tls.ca') } : {}),
  };
  const dt = tcp.downstream_tls;
  const downstreamTls: TcpDownstreamTls | undefined = dt.enabled
    ? {
        rejectUnauthorized: dt.reject_unauthorized,
        ...(dt.ca !== undefined ? { ca: readPem(dt.ca, 'tcp.downstream_tls.ca') } : {}),
        ...(dt.servername !== undefined ? { servername: dt.servername } : {}),
      }
    : undefined;

  const discovery = new Discovery({
    targets: tcp.downstream.map((hostPort): DiscoveryTarget => ({ ...parseTcpTarget(hostPort), tls: dt.enabled })),
    policy: tcp.balancing.policy,
    resolveIntervalMs: tcp.balancing.resolve_interval,
    healthCheck: healthCheckOf(tcp.balancing.health_check, downstreamTls),
    passive: {
      consecutiveFailures: tcp.balancing.passive.failures,
      baseEjectionMs: tcp.balancing.passive.ejection,
      maxEjectionMs: tcp.balancing.passive.max_ejection,
    },
    logger: deps.logger.child({ module: 'discovery', listener: 'tcp' }),
  });
  try {
    await discovery.start();
  } catch (err) {
    await discovery.close();
    throw err;
  }

  const recorder = new TcpRecorder({
    enabled: config.recording.enabled,
    nodeId: config.node_id,
    appProtocol: tcp.protocol === 'raw' ? null : tcp.protocol,
    maxSessionBytes: tcp.recording.max_session_bytes,
    segmentIntervalMs: tcp.recording.segment_interval,
    segmentBytes: tcp.recording.segment_bytes,
    onOverload: tcp.recording.on_overload,
    selector: createRecordingSelector(config, deps.metrics.recorder),
    sink: deps.sink,
    observer: deps.metrics.recorder,
    logger: deps.logger.child({ module: 'recorder', listener: 'tcp' }),
  });
  const proxy = new TcpProxyServer({
    host: tcp.host,
    port: tcp.port,
    ...(listenerTls !== undefined ? { tls: listenerTls } : {}),
    ...(downstreamTls !== undefined ? { downstreamTls } : {}),
    downstreams: discovery,
    timeouts: {
      connectMs: tcp.timeouts.connect,
      idleMs: tcp.timeouts.idle,
      handshakeMs: Math.min(tcp.timeouts.idle, TCP_HANDSHAKE_MAX_MS),
    },
    maxConnections: tcp.limits.max_connections,
    recorder,
    observer: deps.metrics.tcp,
    logger: deps.logger.child({ module: 'proxy', listener: 'tcp' }),
  });
  return { proxy, discovery };
}

type TcpHealthCheckConfig = NonNullable<QProxyConfig['tcp']>['balancing']['health_check'];

/** TCP listeners check by connecting; the TLS settings ride along for completeness of the probe's view. */
function healthCheckOf(hc: TcpHealthCheckConfig, tls: TcpDownstreamTls | undefined): HealthCheckOptions | null {
  if (!hc.enabled) return null;
  return {
    kind: 'tcp',
    path: '/',
    intervalMs: hc.interval,
    timeoutMs: hc.timeout,
    rise: hc.rise,
    fall: hc.fall,
    ...(tls !== undefined
      ? { tls: { rejectUnauthorized: tls.rejectUnauthorized, ...(tls.ca !== undefined ? { ca: tls.ca } : {}), ...(tls.servername !== undefined ? { servername: tls.servername } : {}) } }
      : {}),
  };
}
