/** Builds the HTTP/HTTPS recording proxy of a Record node from the configuration. */
import type { Logger } from 'pino';
import type { QProxyConfig } from '../config/schema.js';
import type { Metrics } from '../metrics/metrics.js';
import { HttpProxyServer } from '../proxy/http/index.js';
import { HttpRecorder } from '../recording/recorder.js';
import type { Store } from '../store/index.js';
import { createRedactor } from './redaction.js';
import { readPem } from './tls-files.js';

export async function createHttpProxy(config: QProxyConfig, metrics: Metrics, store: Store, logger: Logger): Promise<HttpProxyServer> {
  const http = config.http!;
  const rec = config.recording;
  const redactor = await createRedactor(config, store);
  const recorder = new HttpRecorder({
    enabled: rec.enabled,
    nodeId: config.node_id,
    maxBody: config.storage.max_body,
    redactor,
    sink: store,
    observer: metrics.recorder,
    logger: logger.child({ module: 'recorder' }),
  });
  const downstreamTls = http.downstream_tls;
  return new HttpProxyServer({
    host: http.host,
    port: http.port,
    ...(http.tls && {
      tls: {
        cert: readPem(http.tls.tls_cert, 'http.tls.tls_cert'),
        key: readPem(http.tls.tls_key, 'http.tls.tls_key'),
        ...(http.tls.ca !== undefined && { ca: readPem(http.tls.ca, 'http.tls.ca') }),
      },
    }),
    downstreams: [...http.downstream],
    downstreamTls: {
      rejectUnauthorized: downstreamTls.reject_unauthorized,
      ...(downstreamTls.ca !== undefined && { ca: readPem(downstreamTls.ca, 'http.downstream_tls.ca') }),
      ...(downstreamTls.servername !== undefined && { servername: downstreamTls.servername }),
    },
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
}
