/**
 * The one place that assembles a QProxy node from its configuration. Components are created
 * bottom-up (metrics → store → recorders and proxies → sync → playback → API) and stopped top-down,
 * each given only the options and narrow interfaces it needs.
 *
 *   Record:   clients → http/tcp/forward proxies → recorders → store → sync sender → peer
 *   Playback: peer → sync receiver → store → replay engine / serving listeners (http, tcp, forward)
 */
import type { AddressInfo } from 'node:net';
import type { StatusDoc, SyncStatus } from '../core/documents.js';
import type { Logger } from '../core/log.js';
import { checkConfigFiles } from '../config/files.js';
import type { QProxyConfig } from '../config/schema.js';
import type { Discovery } from '../discovery/index.js';
import { Metrics } from '../metrics/metrics.js';
import { ApiServer } from '../api/api-server.js';
import { Store } from '../store/index.js';
import type { SyncLink } from '../sync/index.js';
import { createWebUi } from '../ui/index.js';
import { createHttpProxy } from './http.js';
import { createTcpProxy } from './tcp.js';
import { createForwardProxy } from './forward.js';
import { selfCheck, type BoundListener } from '../proxy/forward/index.js';
import { createNatsSync, createSyncReceiver, createSyncSender, syncPurgeFloor } from './sync.js';
import { createPlayback, type PlaybackHandle } from './playback.js';
import { createRedactor, redactingImporter } from './redaction.js';
import { buildStatus } from './status.js';
import { warnIfFileHandlesShort } from './file-handles.js';

/** A proxy listener as the node drives it (HTTP and TCP alike). */
interface ProxyPart {
  listen(): Promise<AddressInfo>;
  beginDrain(): void;
  close(deadlineMs: number): Promise<void>;
  readonly inFlight: number;
}

/** The sync sender or receiver, whichever transport. */
type SyncPart = SyncLink<AddressInfo | void, SyncStatus>;

export interface NodeAddresses {
  api: AddressInfo;
  http: AddressInfo | null;
  tcp: AddressInfo | null;
  sync: AddressInfo | null;
  forward: AddressInfo | null;
}

interface Parts {
  metrics: Metrics;
  store: Store;
  http: ProxyPart | null;
  tcp: ProxyPart | null;
  forward: ProxyPart | null;
  httpDiscovery: Discovery | null;
  tcpDiscovery: Discovery | null;
  sync: SyncPart | null;
  playback: PlaybackHandle | null;
  api: ApiServer;
}

/** Longest a stopping node waits for the sync link to settle in-flight batches. */
const SYNC_CLOSE_MAX_MS = 5_000;

export class QProxyNode {
  private readonly startedAt = Date.now();
  private draining = false;
  private stopping: Promise<void> | null = null;
  private addresses: NodeAddresses | null = null;
  private parts!: Parts;

  private constructor(
    private readonly config: QProxyConfig,
    private readonly logger: Logger,
    private readonly version: string,
  ) {}

  /**
   * Checks the files the config names (as `qproxy check-config` does), opens storage and builds
   * every component; nothing listens until `start()`.
   */
  static async create(config: QProxyConfig, logger: Logger, version: string): Promise<QProxyNode> {
    checkConfigFiles(config);
    const node = new QProxyNode(config, logger, version);
    const metrics = new Metrics();
    let storeRef: Store | null = null;
    const store = await Store.open({
      path: config.storage.path,
      retentionMs: config.storage.retention,
      maxSizeBytes: config.storage.max_size,
      flushIntervalMs: config.storage.flush_interval,
      synchronous: config.storage.synchronous,
      queueMaxRecords: config.storage.queue_max_records,
      queueMaxBytes: config.storage.queue_max_bytes,
      purgeIntervalMs: config.storage.purge_interval,
      segmentBytes: config.storage.segment_size,
      observer: metrics.store,
      logger: logger.child({ module: 'store' }),
      // Unsent records are kept by retention until the sync sender has delivered them.
      ...optional('purgeFloor', syncPurgeFloor(config, () => storeRef)),
    });
    storeRef = store;
    metrics.setStoreStats(() => store.stats());
    metrics.setStoreHealth(() => store.health());
    let tcpParts: Awaited<ReturnType<typeof createTcpProxy>> | null = null;
    let http: Awaited<ReturnType<typeof createHttpProxy>> | null = null;
    try {
      const record = config.mode === 'Record';
      http = record && config.http ? await createHttpProxy(config, metrics, store, logger) : null;
      tcpParts = record && config.tcp ? await createTcpProxy(config, { metrics, sink: store, logger }) : null;
      const isSelf = selfCheck(() => node.boundListeners());
      const forward = record && config.forward ? await createForwardProxy(config, { metrics, store, logger, isSelf }) : null;
      const syncDeps = { store, metrics, logger };
      const sync: SyncPart | null = createNatsSync(config, syncDeps) ?? createSyncSender(config, syncDeps) ?? createSyncReceiver(config, syncDeps);
      const playback = createPlayback(config, { store, metrics, logger, isSelf });
      // HAR imports go into Playback stores only (a Record store feeds sync, which would ship them
      // to the peer), redacted by the rules recorded traffic goes through.
      const importer = playback ? redactingImporter(playback.importer, await createRedactor(config, store)) : undefined;
      const api = new ApiServer({
        host: config.api.host,
        port: config.api.port,
        ...optional('token', config.api.token),
        allowedHosts: config.api.allowed_hosts,
        records: store,
        ...optional('replays', playback?.replays),
        version,
        ...optional('importer', importer),
        status: () => node.status(),
        ...optional('ui', config.api.ui ? createWebUi({ ...optional('token', config.api.token), logger }) : undefined),
        metrics,
        ready: () => {
          if (node.draining) return false;
          const health = store.health();
          return health.healthy || `store: ${health.problem ?? 'unhealthy'}`;
        },
        logger: logger.child({ module: 'api' }),
      });
      node.parts = {
        metrics,
        store,
        http,
        tcp: tcpParts?.proxy ?? null,
        forward,
        httpDiscovery: http?.discovery ?? null,
        tcpDiscovery: tcpParts?.discovery ?? null,
        sync,
        playback,
        api,
      };
      return node;
    } catch (err) {
      await http?.discovery?.close();
      await tcpParts?.discovery.close();
      await store.close();
      throw err;
    }
  }

  /** Binds the listeners: the API first (so status is visible while traffic starts), then the rest. */
  async start(): Promise<NodeAddresses> {
    warnIfFileHandlesShort(this.config, this.logger);
    const p = this.parts;
    const api = await p.api.listen();
    const sync = (await p.sync?.start()) ?? null;
    this.addresses = { api, http: null, tcp: null, sync, forward: null };
    const served = (await p.playback?.start()) ?? { http: null, tcp: null, forward: null };
    const tcp = (await p.tcp?.listen()) ?? served.tcp;
    const http = (await p.http?.listen()) ?? served.http;
    const forward = (await p.forward?.listen()) ?? served.forward;
    this.addresses = { api, http, tcp, sync, forward };
    this.logger.info(
      {
        mode: this.config.mode,
        api: hostPort(api),
        http: http && hostPort(http),
        tcp: tcp && hostPort(tcp),
        sync: sync && hostPort(sync),
        forward: forward && hostPort(forward),
        store: this.config.storage.path,
      },
      'qproxy started',
    );
    return this.addresses;
  }

  /**
   * Graceful stop (SPEC §2): not-ready, stop accepting, drain in-flight exchanges up to
   * `shutdown.drain_timeout`, let sync settle, flush recordings to disk, close the API last. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  status(): StatusDoc {
    const p = this.parts;
    return buildStatus({
      mode: this.config.mode,
      nodeId: this.config.node_id,
      version: this.version,
      startedAt: this.startedAt,
      draining: this.draining,
      store: p.store.stats(),
      storeHealth: p.store.health(),
      metrics: p.metrics,
      inFlight: (p.http?.inFlight ?? 0) + (p.tcp?.inFlight ?? 0) + (p.forward?.inFlight ?? 0),
      listeners: this.addresses,
      recordingEnabled: this.config.recording.enabled,
      forward: this.config.forward !== undefined,
      sync: p.sync?.status() ?? null,
      playback: p.playback?.status() ?? null,
      discovery: {
        http: p.httpDiscovery && { panic: p.httpDiscovery.panic, endpoints: [...p.httpDiscovery.snapshot()] },
        tcp: p.tcpDiscovery && { panic: p.tcpDiscovery.panic, endpoints: [...p.tcpDiscovery.snapshot()] },
      },
    });
  }

  /** Every listener bound so far: a forward proxy must never connect to one of them. */
  boundListeners(): BoundListener[] {
    const a = this.addresses;
    if (a === null) return [];
    return [a.api, a.http, a.tcp, a.sync, a.forward].filter((x): x is AddressInfo => x !== null);
  }

  private async doStop(): Promise<void> {
    const p = this.parts;
    this.draining = true;
    const drainMs = this.config.shutdown.drain_timeout;
    const proxies = [p.http, p.tcp, p.forward].filter((x): x is ProxyPart => x !== null);
    this.logger.info({ drain_timeout_ms: drainMs, in_flight: proxies.reduce((n, x) => n + x.inFlight, 0) }, 'draining');
    for (const proxy of proxies) proxy.beginDrain();
    await Promise.all(proxies.map((x) => x.close(drainMs)));
    await p.playback?.close(drainMs);
    await p.httpDiscovery?.close();
    await p.tcpDiscovery?.close();
    await p.sync?.close(Math.min(drainMs, SYNC_CLOSE_MAX_MS));
    await p.store.close();
    await p.api.close();
    this.logger.info({}, 'stopped');
  }
}

function hostPort(a: AddressInfo): string {
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

/** `{ key: value }` when value is defined, else `{}` (exactOptionalPropertyTypes-friendly spreading). */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]?: V });
}
