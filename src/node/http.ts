/**
 * Builds the HTTP/HTTPS recording proxy of a Record node from the configuration: its Discovery
 * (downstream addresses, balancing, health checks), its HttpRecorder and the HttpProxyServer.
 * The node owns the lifecycle of what it gets back: `proxy.listen()`, then on shutdown
 * `proxy.beginDrain()`, `proxy.close(deadline)`, `proxy.discovery.close()`, before the store closes.
 */
import type { Logger } from '../core/log.js';
import type { QProxyConfig } from '../config/schema.js';
import { Discovery, parseHttpTarget } from '../discovery/index.js';
import type { HealthCheckOptions } from '../discovery/index.js';
import type { Metrics } from '../metrics/metrics.js';
import { HttpProxyServer } from '../proxy/http/index.js';
import type { DownstreamTlsOptions } from '../proxy/http/index.js';
import { HttpRecorder } from '../recording/recorder.js';
import type { Store } from '../store/index.js';
import { createRecordingSelector } from './recording-selection.js';
import { createRedactor } from './redaction.js';
import { readPem } from './tls-files.js';

type HttpConfig = NonNullable<QProxyConfig['http']>;

/**
 * Reads the certificates, resolves the downstreams (and runs the first health checks when they
 * are on), and builds the proxy. Nothing listens yet. `proxy.discovery` is the Discovery: its
 * `snapshot()` belongs in /api/status, and the node closes it after the proxy.
 *
 * @throws ConfigError when the config has no `http` section, a PEM file cannot be read or a
 *   trusted proxy entry is invalid.
 * @throws QProxyError `QP_ERR_BAD_TARGET` for a downstream that is not an http(s) origin,
 *   `QP_ERR_DISCOVERY` when no downstream host name resolves.
 */
export async function createHttpProxy(config: QProxyConfig, metrics: Metrics, store: Store, logger: Logger): Promise<HttpProxyServer<Discovery>> {
  const http = config.http!;
  const rec = config.recording;
  const redactor = await createRedactor(config, store);
  const recorder = new HttpRecorder({
    enabled: rec.enabled,
    nodeId: config.node_id,
    maxBody: config.storage.max_body,
    websocket: { frames: config.recording.websocket.frames, maxBytes: config.recording.websocket.max_bytes },
    redactor,
    selector: createRecordingSelector(config, metrics.recorder),
    sink: store,
    observer: metrics.recorder,
    logger: logger.child({ module: 'recorder' }),
  });
  const dt = http.downstream_tls;
  const downstreamTls: DownstreamTlsOptions = {
    rejectUnauthorized: dt.reject_unauthorized,
    ...(dt.ca !== undefined && { ca: readPem(dt.ca, 'http.downstream_tls.ca') }),
    ...(dt.servername !== undefined && { servername: dt.servername }),
  };
  const listenerTls = http.tls && {
    cert: readPem(http.tls.tls_cert, 'http.tls.tls_cert'),
    key: readPem(http.tls.tls_key, 'http.tls.tls_key'),
    ...(http.tls.ca !== undefined && { ca: readPem(http.tls.ca, 'http.tls.ca') }),
  };

  const discovery = new Discovery({
    targets: http.downstream.map((url) => parseHttpTarget(url)),
    policy: http.balancing.policy,
    resolveIntervalMs: http.balancing.resolve_interval,
    healthCheck: healthCheckOf(http.balancing.health_check, downstreamTls),
    passive: {
      consecutiveFailures: http.balancing.passive.failures,
      baseEjectionMs: http.balancing.passive.ejection,
      maxEjectionMs: http.balancing.passive.max_ejection,
    },
    logger: logger.child({ module: 'discovery', listener: 'http' }),
  });
  try {
    await discovery.start();
    return new HttpProxyServer({
      host: http.host,
      port: http.port,
      ...(listenerTls && { tls: listenerTls }),
      downstreams: discovery,
      downstreamTls,
      trustedProxies: [...http.trusted_proxies],
      limits: {
        maxHeaderSize: http.limits.max_header_size,
        maxHeadersCount: http.limits.max_headers_count,
        maxBodySize: http.limits.max_body_size,
        maxConnections: http.limits.max_connections,
      },
      timeouts: {
        headerReadMs: http.timeouts.header_read,
        requestMs: http.timeouts.request,
        idleMs: http.timeouts.idle,
        downstreamConnectMs: http.timeouts.downstream_connect,
        downstreamResponseMs: http.timeouts.downstream_response,
        downstreamIdleMs: http.timeouts.downstream_idle,
      },
      recorder,
      observer: metrics.http,
      logger: logger.child({ module: 'proxy', listener: 'http' }),
    });
  } catch (err) {
    await discovery.close();
    throw err;
  }
}

/** HTTP listeners check with a GET of the configured path, over TLS like the proxy for https targets. */
function healthCheckOf(hc: HttpConfig['balancing']['health_check'], tls: DownstreamTlsOptions): HealthCheckOptions | null {
  if (!hc.enabled) return null;
  return {
    kind: 'http',
    path: hc.path,
    intervalMs: hc.interval,
    timeoutMs: hc.timeout,
    rise: hc.rise,
    fall: hc.fall,
    tls: {
      rejectUnauthorized: tls.rejectUnauthorized,
      ...(tls.ca !== undefined && { ca: tls.ca }),
      ...(tls.servername !== undefined && { servername: tls.servername }),
    },
  };
}
