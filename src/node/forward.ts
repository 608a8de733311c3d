/**
 * Builds the forward-proxy listener from the `forward` section: the CA and its leaf cache, the
 * access rules, and — in Record mode — the recording ForwardProxyServer (inner exchanges through
 * the node's HTTP recorder, tunnels through a TCP recorder). Playback mode reuses the CA, cache and
 * access parts for its serving forward listener (see playback.ts).
 */
import type { Logger } from '../core/log.js';
import type { QProxyConfig } from '../config/schema.js';
import { ConfigError, errorMessage, QProxyError } from '../core/errors.js';
import type { Metrics } from '../metrics/metrics.js';
import { ForwardAccess, ForwardProxyServer, type SelfCheck } from '../proxy/forward/index.js';
import type { HttpLimits, HttpTimeouts } from '../proxy/http/index.js';
import { HttpRecorder } from '../recording/recorder.js';
import type { RecordSink } from '../recording/sink.js';
import { TcpRecorder } from '../recording/tcp-recorder.js';
import { CertificateAuthority, LeafContexts, caMinter, type LeafCacheObserver } from '../tls/index.js';
import { createRedactor } from './redaction.js';
import { createRecordingSelector } from './recording-selection.js';
import { readPem } from './tls-files.js';

type ForwardConfig = NonNullable<QProxyConfig['forward']>;

/** What the forward listener takes from the node. */
export interface ForwardDeps {
  metrics: Pick<Metrics, 'http' | 'tcp' | 'recorder' | 'forward'>;
  store: RecordSink & { getMeta(key: string): string | null; setMeta(key: string, value: string): Promise<void> };
  logger: Logger;
  /** The node's own listeners (read when asked: they are bound later). */
  isSelf: SelfCheck;
}

/**
 * The CA's leaf cache, or null when `forward.ca` is absent. Loaded at start so a bad CA file stops
 * the node with a message naming the field.
 *
 * @throws ConfigError when a file cannot be read or is not a usable CA.
 */
export async function loadCertificates(
  forward: ForwardConfig,
  deps: { metrics: { forward: LeafCacheObserver & { setCertCacheSize(fn: () => number): void } }; logger: Pick<Logger, 'info'> },
): Promise<LeafContexts | null> {
  if (forward.ca === undefined) return null;
  const cert = readPem(forward.ca.cert, 'forward.ca.cert');
  const key = readPem(forward.ca.key, 'forward.ca.key');
  let ca: CertificateAuthority;
  try {
    ca = await CertificateAuthority.fromPem(cert, key, { cert: `forward.ca.cert (${forward.ca.cert})`, key: `forward.ca.key (${forward.ca.key})` });
  } catch (err) {
    if (err instanceof QProxyError) throw new ConfigError(err.message, { cause: err });
    throw new ConfigError(`forward.ca: ${errorMessage(err)}`, { cause: err });
  }
  deps.logger.info({ subject: ca.summary.subject, fingerprint256: ca.summary.fingerprint256, not_after: ca.summary.notAfter }, 'forward proxy: CA loaded');
  const leaves = new LeafContexts(caMinter(ca), forward.cert_cache_size, deps.metrics.forward);
  deps.metrics.forward.setCertCacheSize(() => leaves.size);
  return leaves;
}

/** The access rules of `forward` (client ranges, credentials, ports, no loops). */
export function forwardAccess(forward: ForwardConfig, isSelf: SelfCheck): ForwardAccess {
  return new ForwardAccess({
    allowClients: forward.allow_clients,
    auth: forward.auth ?? null,
    allowPorts: forward.allow_ports,
    isSelf,
  });
}

export function forwardLimits(forward: ForwardConfig): HttpLimits {
  return {
    maxHeaderSize: forward.limits.max_header_size,
    maxHeadersCount: forward.limits.max_headers_count,
    maxBodySize: forward.limits.max_body_size,
    maxConnections: forward.limits.max_connections,
  };
}

export function forwardTimeouts(forward: ForwardConfig): HttpTimeouts {
  const t = forward.timeouts;
  return {
    headerReadMs: t.header_read,
    requestMs: t.request,
    idleMs: t.idle,
    downstreamConnectMs: t.downstream_connect,
    downstreamResponseMs: t.downstream_response,
    downstreamIdleMs: t.downstream_idle,
  };
}

/** The recording forward proxy of a Record node. Nothing listens yet. */
export async function createForwardProxy(config: QProxyConfig, deps: ForwardDeps): Promise<ForwardProxyServer> {
  const forward = config.forward!;
  const logger = deps.logger.child({ module: 'proxy', listener: 'forward' });
  const certificates = await loadCertificates(forward, { metrics: deps.metrics, logger });
  const recorder = new HttpRecorder({
    enabled: config.recording.enabled,
    nodeId: config.node_id,
    maxBody: config.storage.max_body,
    websocket: { frames: config.recording.websocket.frames, maxBytes: config.recording.websocket.max_bytes },
    redactor: await createRedactor(config, deps.store),
    // recording.include / exclude / sample apply to the forward proxy's exchanges and tunnels too.
    selector: createRecordingSelector(config, deps.metrics.recorder),
    sink: deps.store,
    observer: deps.metrics.recorder,
    logger: deps.logger.child({ module: 'recorder', listener: 'forward' }),
  });
  const tr = forward.tunnel_recording;
  const tunnelRecorder = new TcpRecorder({
    enabled: config.recording.enabled,
    nodeId: config.node_id,
    maxSessionBytes: tr.max_session_bytes,
    segmentIntervalMs: tr.segment_interval,
    segmentBytes: tr.segment_bytes,
    selector: createRecordingSelector(config, deps.metrics.recorder),
    sink: deps.store,
    observer: deps.metrics.recorder,
    logger: deps.logger.child({ module: 'recorder', listener: 'forward-tunnel' }),
  });
  if (certificates === null) logger.info({}, 'forward.ca is not set: every CONNECT is tunnelled and recorded as a TCP session');
  return new ForwardProxyServer({
    host: forward.host,
    port: forward.port,
    access: forwardAccess(forward, deps.isSelf),
    certificates,
    tunnelHosts: forward.tunnel_hosts,
    ...(forward.upstream_ca !== undefined && { upstreamCa: readPem(forward.upstream_ca, 'forward.upstream_ca') }),
    insecureUpstream: forward.insecure_upstream,
    limits: forwardLimits(forward),
    timeouts: forwardTimeouts(forward),
    isSelf: deps.isSelf,
    recorder,
    tunnelRecorder,
    httpObserver: deps.metrics.http,
    tcpObserver: deps.metrics.tcp,
    observer: deps.metrics.forward,
    logger,
  });
}
