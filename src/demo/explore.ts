/**
 * The demo's explanatory text: what runs where, why zone B replays the demo's writes, and the API
 * calls and `qproxy` commands to try while it runs.
 */
import type { DemoScreen } from './screen.js';
import { ORDER_REPLAY_RULE } from './configs.js';
import { DIFFERING_ENDPOINT, VOLATILE_JSON_PATHS, type SampleServices } from './services.js';
import type { DemoNode } from './nodes.js';

/** What is running, for the texts. */
export interface Setup {
  zoneA: SampleServices;
  zoneB: SampleServices;
  record: DemoNode;
  playback: DemoNode;
  token: string;
  /** True when sync runs over TLS (openssl was available). */
  tls: boolean;
  logDir: string;
}

const hostPort = (a: { port: number } | null): string => (a ? `127.0.0.1:${a.port}` : '-');

/** The map of the two zones and the settings worth knowing. */
export function setupLines(s: Setup, screen: DemoScreen): string[] {
  const b = screen.bold;
  const d = screen.dim;
  const link = s.tls ? 'HTTP/2 + TLS (certificates made for this run) + token' : 'h2c (HTTP/2 without TLS) + token';
  return [
    b('Zone A'),
    `  sample services   HTTP ${s.zoneA.httpUrl} · TCP key/value ${s.zoneA.tcpTarget}`,
    `  Record node       HTTP proxy http://${hostPort(s.record.addresses.http)} · TCP proxy ${hostPort(s.record.addresses.tcp)} · API ${s.record.apiUrl}`,
    `${b('Sync')}                ${link} → ${hostPort(s.playback.addresses.sync)}`,
    b('Zone B'),
    `  Playback node     API ${s.playback.apiUrl} · serves recordings on http://${hostPort(s.playback.addresses.http)} and TCP ${hostPort(s.playback.addresses.tcp)}`,
    `  sample services   HTTP ${s.zoneB.httpUrl} · TCP key/value ${s.zoneB.tcpTarget}  ${d('(live replay target)')}`,
    '',
    `${b('On purpose:')} zone B differs in ${b(DIFFERING_ENDPOINT)} (it rounds prices), so the comparison has something to show.`,
    `${b('Ignored:')} the volatile fields ${VOLATILE_JSON_PATHS.join(', ')} (playback.compare.ignore.json_paths).`,
    `${b('Safety:')} zone B replays reads and only dry-runs writes by default. The demo opts its orders in with`,
    `  playback.safety.rules ${JSON.stringify([ORDER_REPLAY_RULE])},`,
    `  because zone B's service is the demo's own sample. With a real service, opt in only where a replayed write is harmless.`,
    `${b('Logs:')} ${d(`both nodes log to ${s.logDir} (record.log, playback.log)`)}`,
  ];
}

/** API URLs, curl lines and CLI commands to try. */
export function exploreLines(s: Setup, screen: DemoScreen, once: boolean): string[] {
  const auth = `-H 'Authorization: Bearer ${s.token}'`;
  const a = s.record.apiUrl;
  const bApi = s.playback.apiUrl;
  const d = screen.dim;
  return [
    `${screen.bold('Explore')} ${d(once ? '(while the demo runs; with --once it ends after its run)' : '(everything runs until Ctrl-C)')}`,
    `  API token (both nodes): ${s.token}`,
    `  Web UI: zone A ${screen.bold(`${a}/ui/`)} · zone B ${screen.bold(`${bApi}/ui/`)}  ${d('(log in with the token)')}`,
    `  curl -s ${auth} ${a}/api/status            ${d('# zone A: records, sync ledger')}`,
    `  curl -s ${auth} '${a}/api/records?limit=5'  ${d('# what was recorded')}`,
    `  curl -s ${auth} ${a}/metrics               ${d('# Prometheus metrics')}`,
    `  curl -s ${auth} ${bApi}/api/status            ${d('# zone B: playback success_rate')}`,
    `  curl -s ${auth} '${bApi}/api/replays/live/results?status=mismatch&limit=5'  ${d('# the differences')}`,
    `  curl -s http://${hostPort(s.playback.addresses.http)}/api/products/3   ${d('# zone B answers from the recordings')}`,
    `  qproxy records --api ${a} --token ${s.token} --limit 10`,
    `  qproxy replay --api ${bApi} --token ${s.token} --path '/api/**' --speed 0 --min-success 0.9  ${d('# exits 3: the intended difference')}`,
  ];
}
