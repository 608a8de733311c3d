/**
 * @module The replay side of a Playback node, built from plain options: the results thread and
 * file, the HTTP and TCP replay clients, and the replay manager (live and on-demand replays).
 */
import type { Logger } from '../core/log.js';
import type { Credentials } from '../protocols/types.js';
import type { AppProtocol } from '../recording/model.js';
import type { MessageIgnore } from './compare/compare-messages.js';
import { WsReplayClient } from './http/ws-replay.js';
import { HttpReplayClient } from './http/replay-client.js';
import { HttpDriver } from './http/http-driver.js';
import type { RewriteOptions } from './http/rewrite.js';
import type { ProtocolDriver } from './driver.js';
import type { PlaybackObserver } from './observer.js';
import { ReplayManager, type LiveOptions, type ReplayManagerOptions } from './replay-manager.js';
import type { ReplayDefaults } from './replay-params.js';
import { ResultsReader } from './results/reader.js';
import { ResultsThread } from './results/results-thread.js';
import type { PlaybackStore } from './source/store-port.js';
import { TcpDriver } from './tcp/tcp-driver.js';
import { TcpReplayClient } from './tcp/tcp-replay-client.js';

export interface EngineOptions {
  store: PlaybackStore;
  /** The results SQLite file (see results/schema.ts `resultsPathFor`). */
  resultsPath: string;
  /** HTTP replay target, or null when there is no http.downstream. */
  http: {
    origins: string[];
    tls: { ca?: string | Buffer; rejectUnauthorized: boolean; servername?: string };
    rewrite: RewriteOptions;
  } | null;
  /** TCP replay target, or null when there is no tcp.downstream. */
  tcp: {
    targets: Array<{ host: string; port: number }>;
    tls?: { ca?: string | Buffer; rejectUnauthorized: boolean; servername?: string };
    replyTimeoutMs: number;
    compare: 'exact' | 'length';
    /** How records without an app_protocol are read (tcp.protocol); null or absent = raw. */
    protocol?: AppProtocol | null;
    /** playback.tcp.auth, for the replay's own opening of protocol sessions; absent = none. */
    creds?: Credentials | null;
    /** playback.tcp.ignore; absent = the built-in rules only. */
    ignore?: MessageIgnore;
  } | null;
  /** Connect, response head and body idle timeout of replayed requests. */
  timeoutMs: number;
  /** Bytes of each replayed body kept (and decoded) for comparison. */
  compareMaxBody: number;
  live: LiveOptions;
  /** What on-demand replays start from. */
  defaults: ReplayDefaults;
  retentionMs: number;
  maxReplays: number;
  observer: PlaybackObserver;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Live feed polling interval; default 100 ms. */
  pollMs?: number;
  /** Records the live replay passes over (HAR imports). */
  exclusions?: ReplayManagerOptions['exclusions'];
  /** Results group-commit interval; default 100 ms. */
  flushIntervalMs?: number;
}

/** Decoded bodies may be this many times the kept bytes (compressed JSON shrinks about 5–20×). */
const DECODED_FACTOR = 8;

export class PlaybackEngine {
  private closing: Promise<void> | null = null;

  private constructor(
    readonly manager: ReplayManager,
    private readonly results: ResultsThread,
    private readonly reader: ResultsReader,
    private readonly http: HttpReplayClient | null,
  ) {}

  /** Opens the results file and builds everything; replays start with `start()`. */
  static async open(o: EngineOptions): Promise<PlaybackEngine> {
    const results = await ResultsThread.start({ path: o.resultsPath, flushIntervalMs: o.flushIntervalMs ?? 100 }, o.logger);
    let reader: ResultsReader;
    try {
      reader = new ResultsReader(o.resultsPath);
    } catch (err) {
      await results.close();
      throw err;
    }
    const http = o.http && new HttpReplayClient({ origins: o.http.origins, tls: o.http.tls, timeoutMs: o.timeoutMs, maxBody: o.compareMaxBody });
    const ws = o.http && new WsReplayClient({ origins: o.http.origins, tls: o.http.tls, timeoutMs: o.timeoutMs, maxBody: o.compareMaxBody });
    const tcp =
      o.tcp &&
      new TcpReplayClient({
        targets: o.tcp.targets,
        ...(o.tcp.tls !== undefined && { tls: o.tcp.tls }),
        connectTimeoutMs: o.timeoutMs,
        replyTimeoutMs: o.tcp.replyTimeoutMs,
      });
    const maxDecoded = o.compareMaxBody * DECODED_FACTOR;
    const manager = new ReplayManager({
      store: o.store,
      results,
      reader,
      live: o.live,
      defaults: o.defaults,
      observer: o.observer,
      logger: o.logger,
      retentionMs: o.retentionMs,
      maxReplays: o.maxReplays,
      maxDecoded,
      ...(o.pollMs !== undefined && { pollMs: o.pollMs }),
      ...(o.exclusions !== undefined && { exclusions: o.exclusions }),
      drivers: ({ compare, safety, speed, live }) => {
        const drivers: Partial<Record<'http' | 'tcp', ProtocolDriver>> = {};
        if (http && ws && o.http) {
          const rulesId = results.addRules(compare, maxDecoded);
          drivers.http = new HttpDriver({ client: http, ws, results, rulesId, rewrite: o.http.rewrite, safety });
        }
        if (tcp && o.tcp) {
          const tcpRulesId = results.addTcpRules(o.tcp.ignore ?? { defaults: true, messages: [], requests: [], patterns: [] });
          drivers.tcp = new TcpDriver({ client: tcp, results, compare: o.tcp.compare, speed, live, protocol: o.tcp.protocol ?? null, creds: o.tcp.creds ?? null, tcpRulesId });
        }
        return drivers;
      },
    });
    return new PlaybackEngine(manager, results, reader, http);
  }

  start(): void {
    this.manager.start();
  }

  /** Stops replays (in-flight requests get until the deadline), flushes results, closes everything. Idempotent. */
  close(deadlineMs: number): Promise<void> {
    this.closing ??= (async () => {
      await this.manager.close(deadlineMs);
      await this.http?.close(true);
      await this.results.flush().catch(() => undefined);
      // The writer's connection closes last, so SQLite folds the WAL back into the file.
      this.reader.close();
      await this.results.close();
    })();
    return this.closing;
  }

  /** Resolves once every result handed over so far is written (tests, and before reading results). */
  flush(): Promise<void> {
    return this.results.flush();
  }
}
