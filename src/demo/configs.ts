/**
 * The demo's two node configurations, written as ordinary config files into the temp folder and
 * loaded through the same loader and schema the `qproxy` command uses — so what the demo runs is
 * exactly what a user could run from those files.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '../config/load.js';
import type { QProxyConfig } from '../config/schema.js';
import type { DemoCerts } from './certs.js';
import { VOLATILE_JSON_PATHS } from './services.js';

/** Every port the demo binds; 0 = a free port picked by the system. */
export interface DemoPorts {
  recordHttp: number;
  recordTcp: number;
  recordApi: number;
  playbackSync: number;
  playbackApi: number;
  playbackHttp: number;
  playbackTcp: number;
  zoneAHttp: number;
  zoneATcp: number;
  zoneBHttp: number;
  zoneBTcp: number;
}

/** Ports from `--port-base` (consecutive, in the order of DemoPorts), or all 0. */
export function demoPorts(base: number | null): DemoPorts {
  const keys: Array<keyof DemoPorts> = [
    'recordHttp', 'recordTcp', 'recordApi', 'playbackSync', 'playbackApi', 'playbackHttp', 'playbackTcp',
    'zoneAHttp', 'zoneATcp', 'zoneBHttp', 'zoneBTcp',
  ];
  return Object.fromEntries(keys.map((k, i) => [k, base === null ? 0 : base + i])) as unknown as DemoPorts;
}

/** The safety rule that lets the demo's writes reach zone B's sample service. */
export const ORDER_REPLAY_RULE = { method: 'POST', path: '/api/orders', action: 'replay' } as const;

/** Header value zone B's replays carry instead of the redacted recorded one. */
export const ZONE_B_AUTH = 'Bearer zone-b-test-token';

interface Common {
  dir: string;
  ports: DemoPorts;
  apiToken: string;
  syncToken: string;
  /** null: openssl was not available, the link is h2c with the token only. */
  certs: DemoCerts | null;
}

/** Zone B: receives records over (TLS) sync, replays them live against zone B and compares. */
export function playbackConfig(o: Common & { zoneB: { httpUrl: string; tcpTarget: string } }): object {
  return {
    mode: 'Playback',
    node_id: 'zone-b-playback',
    http: { host: '127.0.0.1', port: o.ports.playbackHttp, downstream: o.zoneB.httpUrl },
    tcp: { host: '127.0.0.1', port: o.ports.playbackTcp, downstream: [o.zoneB.tcpTarget] },
    sync: {
      host: '127.0.0.1',
      port: o.ports.playbackSync,
      token: o.syncToken,
      ...(o.certs && { tls: { tls_cert: o.certs.certPath, tls_key: o.certs.keyPath } }),
    },
    api: { host: '127.0.0.1', port: o.ports.playbackApi, token: o.apiToken },
    storage: { path: join(o.dir, 'zone-b.db') },
    playback: {
      live: { enabled: true, delay: '500ms' },
      rewrite: { headers: { authorization: ZONE_B_AUTH } },
      // Writes are dry-run by default in zone B; this service is the demo's own, so orders are replayed.
      safety: { rules: [ORDER_REPLAY_RULE] },
      compare: { ignore: { json_paths: [...VOLATILE_JSON_PATHS] } },
    },
    shutdown: { drain_timeout: '2s' },
    log: { level: 'info' },
  };
}

/** Zone A: proxies and records traffic to zone A's services and streams the records to zone B. */
export function recordConfig(o: Common & { zoneA: { httpUrl: string; tcpTarget: string }; syncPort: number }): object {
  return {
    mode: 'Record',
    node_id: 'zone-a-record',
    http: { host: '127.0.0.1', port: o.ports.recordHttp, downstream: o.zoneA.httpUrl },
    tcp: { host: '127.0.0.1', port: o.ports.recordTcp, downstream: [o.zoneA.tcpTarget] },
    peer: {
      host: '127.0.0.1',
      port: o.syncPort,
      token: o.syncToken,
      tls: o.certs !== null,
      ...(o.certs && { ca: o.certs.caPath }),
    },
    api: { host: '127.0.0.1', port: o.ports.recordApi, token: o.apiToken },
    storage: { path: join(o.dir, 'zone-a.db') },
    shutdown: { drain_timeout: '2s' },
    log: { level: 'info' },
  };
}

/**
 * Writes `config` to `<dir>/<name>.json` and loads it like `qproxy --config` would; the user's
 * QPROXY_* environment is left out so it cannot change the demo.
 *
 * @throws ConfigError when the file does not validate (a bug in the demo).
 */
export async function writeAndLoad(dir: string, name: string, config: object): Promise<{ path: string; config: QProxyConfig }> {
  const path = join(dir, `${name}.json`);
  await writeFile(path, `${JSON.stringify(config, null, 2)}\n`);
  const loaded = loadConfig({ path, env: {}, cwd: dir });
  return { path, config: loaded.config };
}
