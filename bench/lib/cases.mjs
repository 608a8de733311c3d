// The six cases of a run. Each launch() returns the command that starts one proxy in the foreground
// on 127.0.0.1:port, forwarding to the backend; "direct" has none (the load hits the backend).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { freePort } from './net.mjs';

/** Case names in their default (round 1) order, with the letters the task sheet uses. */
export const CASES = [
  { name: 'direct', letter: 'a', records: 'no proxy', what: 'load generator → backend, no proxy: the ceiling of this machine' },
  { name: 'plain-undici', letter: 'b', records: 'no', what: 'bench/proxies/plain-undici.mjs: node:http + undici Pool, streaming pass-through' },
  { name: 'http-proxy', letter: 'c', records: 'no', what: 'bench/proxies/http-proxy.mjs: node-http-proxy with a keep-alive agent' },
  { name: 'qproxy-record', letter: 'd', records: 'yes, every exchange to SQLite', what: 'node dist/cli.js, mode Record' },
  { name: 'qproxy-norecord', letter: 'e', records: 'no (recording.enabled false)', what: 'node dist/cli.js, mode Record, recording disabled' },
  {
    name: 'qproxy-skipall',
    letter: 'f',
    records: 'no (recording on, an exclude rule skips every exchange)',
    what: 'node dist/cli.js, mode Record, recording on with recording.exclude [{"paths": ["/**"]}]',
  },
  {
    name: 'qproxy-record-base',
    letter: 'g',
    records: 'yes, every exchange (the build of --baseline-cli)',
    what: 'node <--baseline-cli>, mode Record: (d) for another build, e.g. the previous commit',
    needsBaseline: true,
  },
];

/** Resolve --cases ("all", or names/letters separated by commas) to case entries, in default order. */
export function selectCases(list, hasBaseline = false) {
  if (list === 'all') return CASES.filter((c) => hasBaseline || !c.needsBaseline);
  const wanted = list.split(',').map((s) => s.trim()).filter(Boolean);
  for (const w of wanted) {
    if (!CASES.some((c) => c.name === w || c.letter === w)) {
      throw new Error(`--cases: unknown case "${w}"; known: ${CASES.map((c) => `${c.name} (${c.letter})`).join(', ')}`);
    }
  }
  const chosen = CASES.filter((c) => wanted.includes(c.name) || wanted.includes(c.letter));
  if (!hasBaseline && chosen.some((c) => c.needsBaseline)) throw new Error('--cases: qproxy-record-base (g) needs --baseline-cli PATH');
  return chosen;
}

/** Recording settings of the QProxy cases: (d) records everything, (e) is off, (f) is on but its filter skips everything. */
const RECORDING = {
  'qproxy-record': undefined,
  'qproxy-norecord': { enabled: false },
  'qproxy-skipall': { exclude: [{ paths: ['/**'] }] },
  'qproxy-record-base': undefined,
};

/** The QProxy config of cases (d), (e) and (f); `work` is the case's temporary folder. */
async function qproxyConfig({ port, backendPort, work, recording }) {
  const config = {
    mode: 'Record',
    node_id: 'bench',
    http: { host: '127.0.0.1', port, downstream: `http://127.0.0.1:${backendPort}` },
    api: { host: '127.0.0.1', port: await freePort() },
    storage: { path: path.join(work, 'qproxy.db') },
    log: { level: 'warn' },
  };
  if (recording !== undefined) config.recording = recording;
  const file = path.join(work, 'config.json');
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`);
  return { file, apiPort: config.api.port };
}

/**
 * How to start `caseName`'s proxy: { cmd, args, env, apiPort? }, or null for "direct".
 * `root` is the repository folder, `qproxyCli` the built CLI (relative to root).
 */
export async function launchFor(caseName, { root, qproxyCli, baselineCli, port, backendPort, work }) {
  const node = process.execPath;
  switch (caseName) {
    case 'direct':
      return null;
    case 'plain-undici':
    case 'http-proxy':
      return { cmd: node, args: [path.join(root, 'bench', 'proxies', `${caseName}.mjs`), String(port), String(backendPort)], env: process.env };
    case 'qproxy-record':
    case 'qproxy-norecord':
    case 'qproxy-skipall':
    case 'qproxy-record-base': {
      const { file, apiPort } = await qproxyConfig({ port, backendPort, work, recording: RECORDING[caseName] });
      const cli = path.resolve(root, caseName === 'qproxy-record-base' ? baselineCli : qproxyCli);
      return { cmd: node, args: [cli], env: { ...process.env, CONFIG_PATH: file }, apiPort, configFile: file };
    }
    default:
      throw new Error(`no launcher for case ${caseName}`);
  }
}
