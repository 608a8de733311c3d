/**
 * The one place that assembles a QProxy node from its configuration. Components are created
 * bottom-up (metrics → store → recorder → proxy → API) and stopped top-down, each given only the
 * options and narrow interfaces it needs.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { QProxyConfig } from '../config/schema.js';
import { Metrics } from '../metrics/metrics.js';
import { Store } from '../store/index.js';
import { HttpRecorder } from '../recording/recorder.js';
import { Redactor } from '../recording/redaction.js';
import { HttpProxyServer } from '../proxy/http/index.js';
import { ApiServer } from '../api/api-server.js';
import { readPem } from './tls-files.js';
import { buildStatus } from './status.js';

export interface NodeAddresses {
  http: AddressInfo | null;
  api: AddressInfo;
}

export class QProxyNode {
  private readonly startedAt = Date.now();
  private draining = false;
  private stopping: Promise<void> | null = null;
  private addresses: NodeAddresses | null = null;

  private constructor(
    private readonly config: QProxyConfig,
    private readonly logger: Logger,
    private readonly version: string,
    private readonly metrics: Metrics,
    private readonly store: Store,
    private readonly proxy: HttpProxyServer | null,
    private readonly api: ApiServer,
  ) {}

  /** Opens storage and builds every component; nothing listens until `start()`. */
  static async create(config: QProxyConfig, logger: Logger, version: string): Promise<QProxyNode> {
    const metrics = new Metrics();
    const storeLog = logger.child({ module: 'store' });
    const store = await Store.open({
      path: config.storage.path,
      retentionMs: config.storage.retention,
      maxSizeBytes: config.storage.max_size,
      flushIntervalMs: config.storage.flush_interval,
      synchronous: config.storage.synchronous,
      queueMaxRecords: config.storage.queue_max_records,
      queueMaxBytes: config.storage.queue_max_bytes,
      purgeIntervalMs: config.storage.purge_interval,
      observer: metrics.store,
      logger: storeLog,
    });
    metrics.setStoreStats(() => store.stats());
    try {
      const proxy = config.mode === 'Record' && config.http ? await createHttpProxy(config, logger, metrics, store) : null;
      const node: { ref: QProxyNode | null } = { ref: null };
      const api = new ApiServer({
        host: config.api.host,
        port: config.api.port,
        ...(config.api.token !== undefined ? { token: config.api.token } : {}),
        allowedHosts: config.api.allowed_hosts,
        records: store,
        status: () => node.ref!.status(),
        metrics,
        ready: () => node.ref !== null && !node.ref.draining,
        logger: logger.child({ module: 'api' }),
      });
      node.ref = new QProxyNode(config, logger, version, metrics, store, proxy, api);
      return node.ref;
    } catch (err) {
      await store.close();
      throw err;
    }
  }

  /** Binds the listeners: the API first (so status is visible while traffic starts), then the proxy. */
  async start(): Promise<NodeAddresses> {
    const api = await this.api.listen();
    const http = this.proxy ? await this.proxy.listen() : null;
    this.addresses = { api, http };
    this.logger.info(
      { mode: this.config.mode, http: http && `${http.address}:${http.port}`, api: `${api.address}:${api.port}`, store: this.config.storage.path },
      'qproxy started',
    );
    this.warnUnavailable();
    return this.addresses;
  }

  /**
   * Graceful stop (SPEC §2): not-ready, stop accepting, drain in-flight exchanges up to
   * `shutdown.drain_timeout`, flush recordings to disk, close the API last. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  status(): object {
    return buildStatus({
      mode: this.config.mode,
      nodeId: this.config.node_id,
      version: this.version,
      startedAt: this.startedAt,
      draining: this.draining,
      store: this.store.stats(),
      metrics: this.metrics,
      inFlight: this.proxy?.inFlight ?? 0,
      listeners: this.addresses,
      recordingEnabled: this.config.recording.enabled,
    });
  }

  private async doStop(): Promise<void> {
    this.draining = true;
    const drainMs = this.config.shutdown.drain_timeout;
    this.logger.info({ drain_timeout_ms: drainMs, in_flight: this.proxy?.inFlight ?? 0 }, 'draining');
    if (this.proxy) {
      this.proxy.beginDrain();
      await this.proxy.close(drainMs);
    }
    await this.store.close();
    await this.api.close();
    this.logger.info('stopped');
  }

  /** Sections this build accepts in the config but does not serve yet are named once at start. */
  private warnUnavailable(): void {
    if (this.config.tcp) this.logger.warn({ section: 'tcp' }, 'the TCP proxy is not part of this build yet; the tcp section is validated but not served');
    if (this.config.mode === 'Record' && this.config.peer) this.logger.warn({ section: 'peer' }, 'cross-zone sync is not part of this build yet; records stay in the local store');
    if (this.config.mode === 'Playback') this.logger.warn('Playback mode in this build serves the API over the local store only (sync receiver and replay come with later releases)');
  }
}

async function createHttpProxy(config: QProxyConfig, logger: Logger, metrics: Metrics, store: Store): Promise<HttpProxyServer> {
  const http = config.http!;
  const rec = config.recording;
  const redactor = rec.redaction.enabled
    ? new Redactor({
        enabled: true,
        key: await redactionKey(config, store),
        headers: rec.redaction.headers,
        queryParams: rec.redaction.query_params,
        jsonPaths: rec.redaction.json_paths,
        bodyPatterns: rec.redaction.body_patterns,
        replaceDefaults: rec.redaction.replace_defaults,
      })
    : null;
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
    ...(http.tls
      ? {
          tls: {
            cert: readPem(http.tls.tls_cert, 'http.tls.tls_cert'),
            key: readPem(http.tls.tls_key, 'http.tls.tls_key'),
            ...(http.tls.ca ? { ca: readPem(http.tls.ca, 'http.tls.ca') } : {}),
          },
        }
      : {}),
    downstreams: [...http.downstream],
    downstreamTls: {
      rejectUnauthorized: downstreamTls.reject_unauthorized,
      ...(downstreamTls.ca ? { ca: readPem(downstreamTls.ca, 'http.downstream_tls.ca') } : {}),
      ...(downstreamTls.servername ? { servername: downstreamTls.servername } : {}),
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
    logger: logger.child({ module: 'proxy' }),
  });
}

/**
 * The HMAC key for redaction digests: from the config (or QPROXY_REDACTION_KEY) when given,
 * otherwise generated once and kept in the store so digests stay stable across restarts.
 */
async function redactionKey(config: QProxyConfig, store: Store): Promise<string> {
  const configured = config.recording.redaction.key;
  if (configured) return configured;
  const kept = store.getMeta('redaction_key');
  if (kept) return kept;
  const key = randomBytes(32).toString('base64url');
  await store.setMeta('redaction_key', key);
  return key;
}
