/**
 * One run of the demo: temp folder → certificates → sample services → Playback node → Record node
 * → traffic → progress until the end (Ctrl-C, or the end of a `--once` run once everything sent was
 * synced and replayed) → summary → cleanup in reverse order, whatever happened.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { errorMessage, QProxyError } from '../core/errors.js';
import { makeDemoCerts, type DemoCerts } from './certs.js';
import { demoPorts, playbackConfig, recordConfig, writeAndLoad } from './configs.js';
import { exploreLines, setupLines, type Setup } from './explore.js';
import { CleanupStack, removeOnExit, type StopSignals } from './lifecycle.js';
import { NodeApi, type NodeStatus, type ResultRow } from './node-api.js';
import { startDemoNode } from './nodes.js';
import type { DemoOptions } from './options.js';
import type { DemoScreen, Progress } from './screen.js';
import { DIFFERING_ENDPOINT, startSampleServices } from './services.js';
import { TrafficDriver } from './traffic.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_INTERRUPTED = 130;

/** How often the progress is read and shown. */
const TICK_MS = 500;
/** How often example differences are fetched while the panel runs. */
const DIFFS_EVERY_MS = 2_000;
/** After a `--once` run's traffic, how long to wait for sync and replay to catch up. */
const CATCH_UP_MAX_MS = 30_000;
const EXAMPLE_DIFFS = 3;

/** Progress plus what the end-of-run check needs. */
interface Snapshot extends Progress {
  /** Records zone B decided on: replayed, dry-run, skipped or missing. */
  processed: number;
  /** Records the Record node has not had acknowledged yet (by store sequence). */
  unacknowledged: number;
}

/** Raised inside the run when a stop signal arrived during setup. */
class Interrupted extends Error {}

export class DemoRun {
  private readonly cleanup = new CleanupStack();
  private readonly api: NodeApi;
  private readonly token = randomBytes(12).toString('hex');
  private readonly started = Date.now();
  private setup: Setup | null = null;
  private traffic: TrafficDriver | null = null;
  private diffs: ResultRow[] = [];
  private diffsAt = -Infinity;
  private diffsPrinted = false;

  constructor(
    private readonly opts: DemoOptions,
    private readonly screen: DemoScreen,
    private readonly signals: StopSignals,
  ) {
    this.api = new NodeApi(this.token);
  }

  /** Runs the demo to its end and returns the exit code. Never throws. */
  async run(): Promise<number> {
    let dir: string;
    try {
      dir = await mkdtemp(join(tmpdir(), 'qproxy-demo-'));
    } catch (err) {
      this.screen.print(this.screen.red(`qproxy demo: cannot make a temp folder in ${tmpdir()}: ${errorMessage(err)} — check TMPDIR`));
      return EXIT_FAILURE;
    }
    const forgetExitHook = this.opts.keep ? () => undefined : removeOnExit(dir);
    this.screen.print(`${this.screen.bold('QProxy demo')} — temp folder: ${dir}${this.opts.keep ? ' (kept: --keep)' : ' (removed at the end)'}`);
    let code: number;
    try {
      code = await this.main(dir);
    } catch (err) {
      code = this.reportFailure(err);
    }
    await this.teardown(dir);
    forgetExitHook();
    return code;
  }

  private async main(dir: string): Promise<number> {
    const setup = await this.start(dir);
    this.setup = setup;
    this.screen.print('', ...setupLines(setup, this.screen), '', ...exploreLines(setup, this.screen, this.opts.once), '');
    this.checkSignal();
    const traffic = new TrafficDriver({
      httpUrl: `http://127.0.0.1:${setup.record.addresses.http!.port}`,
      tcp: { host: '127.0.0.1', port: setup.record.addresses.tcp!.port },
      rate: this.opts.rate,
      durationMs: this.opts.durationMs,
    });
    this.traffic = traffic;
    this.cleanup.add('traffic', () => traffic.stop());
    traffic.start();
    const last = await this.watch(traffic);
    this.screen.freeze();
    if (this.signals.signal !== null) return this.opts.once ? EXIT_INTERRUPTED : EXIT_OK;
    return this.finalReport(last);
  }

  /** Certificates, services and both nodes; each registers its cleanup as soon as it exists. */
  private async start(dir: string): Promise<Setup> {
    // Added first, so it is closed last, after both nodes.
    this.cleanup.add('API client', () => this.api.close());
    const ports = demoPorts(this.opts.portBase);
    const certs = await this.makeCerts(dir);
    this.checkSignal();
    const zoneA = await startSampleServices('A', { http: ports.zoneAHttp, tcp: ports.zoneATcp });
    this.cleanup.add('zone A services', () => zoneA.close());
    const zoneB = await startSampleServices('B', { http: ports.zoneBHttp, tcp: ports.zoneBTcp });
    this.cleanup.add('zone B services', () => zoneB.close());
    this.checkSignal();
    const common = { dir, ports, apiToken: this.token, syncToken: randomBytes(16).toString('hex'), certs };
    const version = packageVersion();
    const pb = await writeAndLoad(dir, 'playback', playbackConfig({ ...common, zoneB }));
    const playback = await startDemoNode('zone B Playback node', pb.config, join(dir, 'logs', 'playback.log'), version);
    this.cleanup.add('Playback node', () => playback.stop());
    this.checkSignal();
    const rc = await writeAndLoad(dir, 'record', recordConfig({ ...common, zoneA, syncPort: playback.addresses.sync!.port }));
    const record = await startDemoNode('zone A Record node', rc.config, join(dir, 'logs', 'record.log'), version);
    this.cleanup.add('Record node', () => record.stop());
    this.checkSignal();
    return { zoneA, zoneB, record, playback, token: this.token, tls: certs !== null, logDir: join(dir, 'logs') };
  }

  private async makeCerts(dir: string): Promise<DemoCerts | null> {
    const outcome = await makeDemoCerts(dir);
    if (outcome.ok) return outcome.certs;
    this.screen.print(
      this.screen.yellow(`Note: no certificates (${outcome.reason}).`),
      this.screen.yellow('      The sync link runs over h2c (HTTP/2 without TLS) with the token only; install openssl to see TLS sync.'),
    );
    return null;
  }

  private checkSignal(): void {
    if (this.signals.signal !== null) throw new Interrupted();
  }

  /** Shows progress until a stop signal, or the end of a --once run. Returns the last progress. */
  private async watch(traffic: TrafficDriver): Promise<Snapshot | null> {
    let last: Snapshot | null = null;
    let doneAt: number | null = null;
    while (this.signals.signal === null) {
      last = await this.progress(traffic);
      if (last) this.screen.update(last, this.opts.once ? [] : this.diffs);
      if (!this.screen.tty && !this.opts.once) this.printDiffsOnce();
      if (!traffic.running) doneAt ??= Date.now();
      if (this.opts.once && doneAt !== null && ((last && caughtUp(last)) || Date.now() - doneAt > CATCH_UP_MAX_MS)) break;
      await Promise.race([delay(TICK_MS), this.signals.stopped]);
    }
    if (last) this.screen.update(last, this.opts.once ? [] : this.diffs, true);
    return last;
  }

  /** Without a panel (not a TTY), the example differences are printed once, as soon as there are some. */
  private printDiffsOnce(): void {
    if (this.diffsPrinted || this.diffs.length === 0) return;
    this.diffsPrinted = true;
    this.screen.print(this.screen.bold(`Example differences (${DIFFERING_ENDPOINT} differs on purpose)`), ...this.screen.diffLines(this.diffs));
  }

  /** Reads both nodes' status (and now and then the differences); null when a node did not answer. */
  private async progress(traffic: TrafficDriver): Promise<Snapshot | null> {
    const s = this.setup!;
    let a: NodeStatus;
    let b: NodeStatus;
    try {
      [a, b] = await Promise.all([this.api.status(s.record.apiUrl), this.api.status(s.playback.apiUrl)]);
      if (!this.opts.once && Date.now() - this.diffsAt >= DIFFS_EVERY_MS) {
        this.diffsAt = Date.now();
        this.diffs = exampleDiffs(await this.api.mismatches(s.playback.apiUrl, 100));
      }
    } catch (err) {
      this.screen.print(this.screen.yellow(`(status not available: ${errorMessage(err)})`));
      return null;
    }
    const pb = b.playback;
    return {
      elapsedMs: Date.now() - this.started,
      sending: traffic.running,
      sent: { ...traffic.counts, byClass: { ...traffic.counts.byClass } },
      recorded: a.records.count,
      synced: b.records.count,
      pending: a.sync.pending?.records ?? 0,
      syncState: a.sync.state ?? 'off',
      syncError: a.sync.state !== 'connected' && a.sync.last_error ? a.sync.last_error.message : null,
      replayed: pb.replayed,
      matched: pb.matched,
      mismatched: pb.mismatched,
      failed: pb.failed,
      notSent: (pb.dry_run ?? 0) + (pb.skipped ?? 0),
      successRate: pb.success_rate,
      processed: pb.replayed + (pb.dry_run ?? 0) + (pb.skipped ?? 0) + (pb.missing ?? 0),
      unacknowledged: (a.sync.last_seq ?? 0) - (a.sync.cursor ?? 0),
    };
  }

  private async finalReport(last: Progress | null): Promise<number> {
    const s = this.setup!;
    const sc = this.screen;
    let diffs: ResultRow[] = [];
    try {
      diffs = exampleDiffs(await this.api.mismatches(s.playback.apiUrl, 200));
    } catch (err) {
      sc.print(sc.yellow(`(differences not available: ${errorMessage(err)})`));
    }
    sc.print('', sc.bold(`Example differences (zone A recorded → zone B replayed; ${DIFFERING_ENDPOINT} differs on purpose)`));
    sc.print(...(diffs.length > 0 ? sc.diffLines(diffs) : ['  (none found)']));
    const ok = last !== null && last.recorded > 0 && last.synced > 0 && last.replayed > 0;
    const p = last;
    sc.print(
      '',
      sc.bold('Summary'),
      p
        ? `  sent ${p.sent.http} HTTP requests and ${p.sent.tcp} TCP sessions · recorded ${p.recorded} · synced ${p.synced} · replayed ${p.replayed} ` +
            `(${p.matched} match, ${p.mismatched} differ, ${p.failed} failed) · success rate ${p.successRate === null ? '—' : `${(p.successRate * 100).toFixed(1)}%`}`
        : '  no status could be read from the nodes',
      ok
        ? sc.green('  OK: traffic was recorded in zone A, synced to zone B and replayed there.')
        : sc.red('  FAILED: nothing was recorded, synced or replayed — see the node logs (run again with --keep to keep them).'),
    );
    return ok ? EXIT_OK : EXIT_FAILURE;
  }

  private reportFailure(err: unknown): number {
    if (err instanceof Interrupted) return this.opts.once ? EXIT_INTERRUPTED : EXIT_OK;
    this.screen.freeze();
    const what = err instanceof QProxyError ? `${err.code}: ${err.message}` : err instanceof Error ? (err.stack ?? err.message) : String(err);
    this.screen.print(this.screen.red(`qproxy demo failed: ${what}`));
    return EXIT_FAILURE;
  }

  private async teardown(dir: string): Promise<void> {
    this.screen.print('', this.screen.dim('Stopping: traffic, Record node, Playback node, sample services…'));
    await this.traffic?.stop();
    const failures = await this.cleanup.run();
    for (const f of failures) this.screen.print(this.screen.yellow(`  could not stop ${f}`));
    if (this.opts.keep) {
      this.screen.print(`Stopped. Kept ${dir} (configs, certificates, databases, logs).`);
      return;
    }
    try {
      await rm(dir, { recursive: true, force: true });
      this.screen.print(`Stopped. Removed ${dir}.`);
    } catch (err) {
      this.screen.print(this.screen.yellow(`Stopped, but ${dir} could not be removed: ${errorMessage(err)} — remove it by hand`));
    }
  }
}

/** Caught up: nothing pending on the link, zone B has every record and decided each one. */
function caughtUp(p: Snapshot): boolean {
  return p.recorded > 0 && p.pending === 0 && p.unacknowledged <= 0 && p.synced >= p.recorded && p.processed >= p.synced;
}

/** Up to EXAMPLE_DIFFS results, one per distinct request target. */
function exampleDiffs(rows: readonly ResultRow[]): ResultRow[] {
  const seen = new Set<string>();
  return rows.filter((r) => !seen.has(r.target ?? '') && seen.add(r.target ?? '')).slice(0, EXAMPLE_DIFFS);
}

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}
