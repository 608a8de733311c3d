/**
 * Builds the playback side of a Playback node from the configuration: replay (live and on demand,
 * HTTP to `http.downstream`, TCP to `tcp.downstream`), the results file, and the serving listeners
 * (`http` and `tcp` answer from recordings). The composition root (node.ts) calls `start()`
 * after the store is open and `close()` before it closes; `replays` goes into ApiOptions and
 * `status()` under `/api/status` `playback`.
 */
import type { AddressInfo } from 'node:net';
import type { PlaybackNodeStatus } from '../core/documents.js';
import type { Logger } from '../core/log.js';
import type { QProxyConfig } from '../config/schema.js';
import { parseTcpTarget } from '../discovery/index.js';
import { QProxyError } from '../core/errors.js';
import type { PlaybackGauges } from '../metrics/metrics.js';
import {
  Forwarder,
  HttpStubServer,
  LiveExclusions,
  PlaybackEngine,
  TcpStubServer,
  resultsPathFor,
  type EngineOptions,
  type ExclusionStore,
  type MatchRules,
  type PlaybackObserver,
  type PlaybackStore,
  type ReplayRequest,
  type ReplaysApi,
} from '../playback/index.js';
import { compileJsonPath } from '../core/json-path.js';
import { HttpRecorder, type RecorderObserver } from '../recording/recorder.js';
import type { SelectionObserver } from '../recording/selector.js';
import type { RecordSink } from '../recording/sink.js';
import { createRecordingSelector } from './recording-selection.js';
import { createRedactor } from './redaction.js';
import { readPem } from './tls-files.js';
import { ConnectHandler, PROXY_AUTHENTICATE, hostMatcher, resolveAll, type ForwardObserver, type SelfCheck } from '../proxy/forward/index.js';
import { normalizeAddress } from '../proxy/http/index.js';
import { forwardAccess, forwardTimeouts, loadCertificates } from './forward.js';
import type { LeafCacheObserver } from '../tls/index.js';

/** What playback takes from the node. */
export interface PlaybackDeps {
  /** The record store: read for replay and serving; written by forward-on-miss and HAR imports. */
  store: PlaybackStore & RecordSink & ExclusionStore;
  /** `metrics.playback` observes replays and serving; `metrics.recorder` counts forward-on-miss recording drops and skips; `metrics.forward` the forward listener. */
  metrics: {
    playback: PlaybackObserver & { setGauges(fn: () => PlaybackGauges): void };
    recorder: RecorderObserver & SelectionObserver;
    forward: ForwardObserver & LeafCacheObserver & { setCertCacheSize(fn: () => number): void };
  };
  logger: Logger;
  /** The node's own listeners, refused as CONNECT targets of the serving forward proxy; default none. */
  isSelf?: SelfCheck;
}

/** The listeners playback opened. */
export interface PlaybackAddresses {
  http: AddressInfo | null;
  tcp: AddressInfo | null;
  forward: AddressInfo | null;
}

export interface PlaybackHandle {
  /** Opens the results file, starts replays, indexes recordings and opens the serving listeners. */
  start(): Promise<PlaybackAddresses>;
  /** Stops serving and replaying; requests in flight get until `deadlineMs`. Idempotent. */
  close(deadlineMs: number): Promise<void>;
  /** The `/api/status` `playback` section (SPEC keys replayed/matched/mismatched/failed/success_rate). */
  status(): PlaybackNodeStatus;
  /** For ApiOptions.replays: answers 503 (QP_ERR_REPLAY_CLOSED) until started and after close. */
  replays: ReplaysApi;
  /** For ApiOptions.importer: stores HAR imports, which the live replay passes over. */
  importer: LiveExclusions;
  /** The serving HTTP listener, once started (null when serving is off or there is no `http`). */
  readonly serveServer: HttpStubServer | null;
  /** The serving TCP listener, once started. */
  readonly tcpServeServer: TcpStubServer | null;
  /** The serving forward proxy, once started (null without a `forward` section). */
  readonly forwardServeServer: HttpStubServer | null;
  /** The replay engine, once started. */
  readonly engine: PlaybackEngine | null;
}

/** Largest request body serving reads to match when http.limits.max_body_size is 0 (unlimited). */
const SERVE_MAX_BODY = 16 * 1024 * 1024;
/** Largest downstream answer forward-on-miss relays (held in memory). */
const FORWARD_MAX_RESPONSE = 64 * 1024 * 1024;
const SERVE_POLL_MS = 500;

type Config = QProxyConfig;

function notStarted(): QProxyError {
  return new QProxyError('QP_ERR_REPLAY_CLOSED', 'playback is not running (starting up or shutting down); try again shortly');
}

function engineOptions(config: Config, deps: PlaybackDeps, exclusions: LiveExclusions): EngineOptions {
  const p = config.playback;
  const http = config.http;
  const tcp = config.tcp;
  const httpTarget = http !== undefined && http.downstream.length > 0;
  const tcpTarget = tcp !== undefined && tcp.downstream.length > 0;
  const liveEnabled = p.live.enabled ?? ((httpTarget || tcpTarget) && !p.serve.forward_on_miss);
  const dt = http?.downstream_tls;
  const tt = tcp?.downstream_tls;
  return {
    store: deps.store,
    resultsPath: resultsPathFor(config.storage.path),
    http: httpTarget
      ? {
          origins: [...http.downstream],
          tls: {
            rejectUnauthorized: dt!.reject_unauthorized,
            ...(dt!.ca !== undefined && { ca: readPem(dt!.ca, 'http.downstream_tls.ca') }),
            ...(dt!.servername !== undefined && { servername: dt!.servername }),
          },
          rewrite: p.rewrite,
        }
      : null,
    tcp: tcpTarget
      ? {
          targets: tcp.downstream.map((t) => parseTcpTarget(t)),
          ...(tt!.enabled && {
            tls: {
              rejectUnauthorized: tt!.reject_unauthorized,
              ...(tt!.ca !== undefined && { ca: readPem(tt!.ca, 'tcp.downstream_tls.ca') }),
              ...(tt!.servername !== undefined && { servername: tt!.servername }),
            },
          }),
          replyTimeoutMs: p.tcp.reply_timeout,
          compare: p.tcp.compare,
          protocol: tcp.protocol === 'raw' ? null : tcp.protocol,
          creds: p.tcp.auth === undefined ? null : { user: p.tcp.auth.user, ...(p.tcp.auth.password !== undefined && { password: p.tcp.auth.password }), ...(p.tcp.auth.database !== undefined && { database: p.tcp.auth.database }) },
          ignore: p.tcp.ignore,
        }
      : null,
    timeoutMs: p.timeout,
    compareMaxBody: p.compare.max_body,
    live: { enabled: liveEnabled, delayMs: p.live.delay, concurrency: p.concurrency, compare: p.compare, safety: p.safety },
    defaults: { speed: p.speed, rate: p.rate, maxGapMs: p.max_gap, concurrency: p.concurrency, compare: p.compare, safety: p.safety },
    retentionMs: p.results.retention,
    maxReplays: p.results.max_replays,
    observer: deps.metrics.playback,
    logger: deps.logger.child({ module: 'replay' }),
    exclusions,
  };
}

function matchRules(config: Config): MatchRules {
  const s = config.playback.serve;
  return {
    method: s.match.method,
    query: s.match.query,
    body: s.match.body,
    headers: s.match.headers,
    ignoreQuery: new Set(s.ignore.query_params.map((q) => q.toLowerCase())),
    ignoreJson: s.ignore.json_paths.map(compileJsonPath),
  };
}

async function forwarder(config: Config, deps: PlaybackDeps): Promise<Forwarder | null> {
  const http = config.http;
  if (!config.playback.serve.forward_on_miss || http === undefined || http.downstream.length === 0) return null;
  const redactor = await createRedactor(config, deps.store);
  const recorder = new HttpRecorder({
    enabled: config.recording.enabled,
    nodeId: config.node_id,
    maxBody: config.storage.max_body,
    redactor,
    selector: createRecordingSelector(config, deps.metrics.recorder),
    sink: deps.store,
    observer: deps.metrics.recorder,
    logger: deps.logger.child({ module: 'recorder' }),
  });
  const dt = http.downstream_tls;
  return new Forwarder({
    origins: http.downstream,
    tls: {
      rejectUnauthorized: dt.reject_unauthorized,
      ...(dt.ca !== undefined && { ca: readPem(dt.ca, 'http.downstream_tls.ca') }),
      ...(dt.servername !== undefined && { servername: dt.servername }),
    },
    timeoutMs: config.playback.timeout,
    maxResponseBytes: FORWARD_MAX_RESPONSE,
    recorder,
  });
}

function listenerTls(tls: { tls_cert: string; tls_key: string; ca?: string | undefined } | undefined, section: string) {
  if (tls === undefined) return {};
  return {
    tls: {
      cert: readPem(tls.tls_cert, `${section}.tls.tls_cert`),
      key: readPem(tls.tls_key, `${section}.tls.tls_key`),
      ...(tls.ca !== undefined && { ca: readPem(tls.ca, `${section}.tls.ca`) }),
    },
  };
}

async function httpStub(config: Config, deps: PlaybackDeps): Promise<HttpStubServer | null> {
  const http = config.http;
  if (http === undefined || !config.playback.serve.enabled) return null;
  return new HttpStubServer({
    host: http.host,
    port: http.port,
    ...listenerTls(http.tls, 'http'),
    store: deps.store,
    match: matchRules(config),
    limits: {
      maxHeaderSize: http.limits.max_header_size,
      maxBodyBytes: http.limits.max_body_size > 0 ? http.limits.max_body_size : SERVE_MAX_BODY,
      maxConnections: http.limits.max_connections,
    },
    timeouts: { headerReadMs: http.timeouts.header_read, requestMs: http.timeouts.request, idleMs: http.timeouts.idle },
    forwarder: await forwarder(config, deps),
    observer: deps.metrics.playback,
    logger: deps.logger.child({ module: 'serve', listener: 'http' }),
    pollMs: SERVE_POLL_MS,
  });
}

/**
 * The forward proxy of a Playback node: an application in zone B sets HTTPS_PROXY to it and gets
 * its dependencies' recorded answers. CONNECTs are intercepted with the CA (tunnel hosts are
 * refused: there is nothing to relay to), and requests are matched on origin and path.
 */
async function forwardStub(config: Config, deps: PlaybackDeps): Promise<HttpStubServer | null> {
  const forward = config.forward;
  if (forward === undefined || !config.playback.serve.enabled) return null;
  const logger = deps.logger.child({ module: 'serve', listener: 'forward' });
  const certificates = await loadCertificates(forward, { metrics: deps.metrics, logger });
  const access = forwardAccess(forward, deps.isSelf ?? (() => false));
  let stub: HttpStubServer | null = null;
  const connect = new ConnectHandler(
    {
      access,
      certificates,
      tunnelHosts: hostMatcher(forward.tunnel_hosts),
      sink: { accept: (socket, info) => stub!.accept(socket, info) },
      handshakeMs: forward.timeouts.header_read,
      observer: deps.metrics.forward,
      resolve: resolveAll,
      logger,
    },
    null,
  );
  const t = forwardTimeouts(forward);
  stub = new HttpStubServer({
    host: forward.host,
    port: forward.port,
    store: deps.store,
    match: matchRules(config),
    limits: {
      maxHeaderSize: forward.limits.max_header_size,
      maxBodyBytes: forward.limits.max_body_size > 0 ? forward.limits.max_body_size : SERVE_MAX_BODY,
      maxConnections: forward.limits.max_connections,
    },
    timeouts: { headerReadMs: t.headerReadMs, requestMs: t.requestMs, idleMs: t.idleMs },
    forwarder: null,
    forward: {
      onConnect: connect.handle,
      check: (address, rawHeaders) => {
        const d = access.checkClient(normalizeAddress(address), rawHeaders);
        if (d === null) return null;
        deps.metrics.forward.denied(d.reason);
        logger.info({ client: address, reason: d.reason }, `forward proxy refused a request: ${d.message}`);
        return { status: d.status, message: d.message, code: d.status === 407 ? 'QP_ERR_PROXY_AUTH' : 'QP_ERR_FORWARD_DENIED', headers: d.status === 407 ? PROXY_AUTHENTICATE : [] };
      },
      close: () => connect.close(),
    },
    observer: deps.metrics.playback,
    logger,
    pollMs: SERVE_POLL_MS,
  });
  return stub;
}

function tcpStub(config: Config, deps: PlaybackDeps): TcpStubServer | null {
  const tcp = config.tcp;
  if (tcp === undefined || !config.playback.serve.enabled) return null;
  return new TcpStubServer({
    host: tcp.host,
    port: tcp.port,
    ...listenerTls(tcp.tls, 'tcp'),
    store: deps.store,
    idleMs: tcp.timeouts.idle,
    maxConnections: tcp.limits.max_connections,
    observer: deps.metrics.playback,
    logger: deps.logger.child({ module: 'serve', listener: 'tcp' }),
    pollMs: SERVE_POLL_MS,
  });
}

/** Playback of a Playback node; null in Record mode. Throws ConfigError for unreadable PEM files (at start). */
export function createPlayback(config: Config, deps: PlaybackDeps): PlaybackHandle | null {
  if (config.mode !== 'Playback') return null;
  let engine: PlaybackEngine | null = null;
  let http: HttpStubServer | null = null;
  let tcp: TcpStubServer | null = null;
  let fwd: HttpStubServer | null = null;
  let closing: Promise<void> | null = null;
  const manager = () => {
    if (engine === null || closing !== null) throw notStarted();
    return engine.manager;
  };
  deps.metrics.playback.setGauges(() => {
    const s = engine?.manager.status();
    return { successRatio: s?.success_rate ?? null, inFlight: s?.in_flight ?? 0 };
  });
  const exclusions = LiveExclusions.load(deps.store, deps.logger.child({ module: 'replay' }));
  const replays: ReplaysApi = {
    create: (req: ReplayRequest) => manager().create(req),
    list: (limit) => manager().list(limit),
    get: (id) => manager().get(id),
    remove: (id) => manager().remove(id),
    results: (id, q) => manager().results(id, q),
    result: (id, recordId) => manager().result(id, recordId),
  };
  return {
    replays,
    importer: exclusions,
    get serveServer() {
      return http;
    },
    get tcpServeServer() {
      return tcp;
    },
    get forwardServeServer() {
      return fwd;
    },
    get engine() {
      return engine;
    },
    async start() {
      const opts = engineOptions(config, deps, exclusions);
      engine = await PlaybackEngine.open(opts);
      engine.start();
      try {
        http = await httpStub(config, deps);
        tcp = tcpStub(config, deps);
        fwd = await forwardStub(config, deps);
        return { http: http ? await http.listen() : null, tcp: tcp ? await tcp.listen() : null, forward: fwd ? await fwd.listen() : null };
      } catch (err) {
        await Promise.all([http?.close(0), tcp?.close(0), fwd?.close(0)]);
        await engine.close(0);
        throw err;
      }
    },
    close(deadlineMs) {
      closing ??= (async () => {
        await Promise.all([http?.close(deadlineMs), tcp?.close(deadlineMs), fwd?.close(deadlineMs)]);
        await engine?.close(deadlineMs);
      })();
      return closing;
    },
    status() {
      const base = engine?.manager.status() ?? { replayed: 0, matched: 0, mismatched: 0, failed: 0, success_rate: null };
      return { ...base, serve: { http: http?.status() ?? null, tcp: tcp?.status() ?? null, forward: fwd?.status() ?? null } };
    },
  };
}
