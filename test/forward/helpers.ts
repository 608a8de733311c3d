/**
 * Helpers for the forward-proxy tests: a QProxy CA and an upstream PKI made at test time, local
 * HTTPS servers with their own certificates, an in-process node built from a real config file, and
 * the real clients (curl, Python requests) run as child processes.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { QProxyNode, type NodeAddresses } from '../../src/node/node.js';
import { createCa } from '../../src/tls/index.js';
import { makeTestPki, type TestPki } from '../helpers/tls.js';
import { defer, tempDir } from '../playback/helpers.js';

export { defer, tempDir, waitFor } from '../playback/helpers.js';

/** A folder with QProxy's CA (ca.pem, ca-key.pem) and the upstream servers' PKI (upstream-ca.pem). */
export interface ForwardPki {
  dir: string;
  /** QProxy's CA (PEM) — what clients trust. */
  caPem: string;
  /** The test CA that signed the upstream servers' localhost certificate. */
  upstream: TestPki;
}

export async function forwardPki(t: TestContext): Promise<ForwardPki> {
  const dir = await tempDir(t);
  const upstream = await makeTestPki();
  defer(t, () => upstream.cleanup());
  const { certPem, keyPem } = await createCa('QProxy Test CA', 'QProxy');
  await writeFile(join(dir, 'ca.pem'), certPem);
  await writeFile(join(dir, 'ca-key.pem'), keyPem, { mode: 0o600 });
  await writeFile(join(dir, 'upstream-ca.pem'), upstream.ca);
  return { dir, caPem: certPem, upstream };
}

export type Handler = (req: IncomingMessage, body: Buffer, res: ServerResponse) => void;

/** What an upstream saw of each request. */
export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** An HTTPS server for localhost / 127.0.0.1 with the upstream PKI's certificate; echoes JSON unless told otherwise. */
export async function httpsUpstream(t: TestContext, pki: ForwardPki, handler?: Handler): Promise<{ port: number; seen: SeenRequest[] }> {
  const seen: SeenRequest[] = [];
  const server = createHttpsServer({ cert: pki.upstream.server.cert, key: pki.upstream.server.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: body.toString() });
      if (handler) return handler(req, body, res);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ method: req.method, url: req.url, body: body.toString() }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  defer(t, () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  }));
  return { port: (server.address() as AddressInfo).port, seen };
}

/** A running node and its addresses. */
export interface RunningNode {
  node: QProxyNode;
  addresses: NodeAddresses;
  /** `http://127.0.0.1:PORT` of the forward listener. */
  proxy: string;
  api: string;
}

/** Writes `config` as DIR/config.json (relative paths resolve against DIR), starts the node, stops it after the test. */
export async function startNode(t: TestContext, dir: string, config: Record<string, unknown>, name = 'config.json'): Promise<RunningNode> {
  const full = { api: { port: 0 }, sync: { host: '127.0.0.1', port: 0 }, storage: { path: `data-${name}.db`, flush_interval: '20ms' }, log: { level: 'fatal' }, ...config };
  await writeFile(join(dir, name), JSON.stringify(full));
  const { config: loaded } = loadConfig({ path: join(dir, name), env: {}, cwd: dir });
  const node = await QProxyNode.create(loaded, pino({ level: 'silent' }), 'test');
  defer(t, () => node.stop());
  const addresses = await node.start();
  const forward = addresses.forward;
  return { node, addresses, proxy: forward ? `http://127.0.0.1:${forward.port}` : '', api: `http://127.0.0.1:${addresses.api.port}` };
}

/** Runs a program; resolves with its exit code and output (never rejects on a non-zero exit). */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env: { PATH: process.env.PATH, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** A record list item from the API. */
export interface ListedRecord {
  id: string;
  protocol: string;
  url?: string;
  status?: number | null;
  downstream?: string | null;
  error?: string | null;
}

export async function listRecords(api: string): Promise<ListedRecord[]> {
  const res = await fetch(`${api}/api/records?limit=1000`);
  return ((await res.json()) as { records: ListedRecord[] }).records;
}

export async function getRecord(api: string, id: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${api}/api/records/${id}`);
  return (await res.json()) as Record<string, unknown>;
}

/** A body of a full record from the API, decoded. */
export function bodyText(body: unknown): string {
  const b = body as { data: string; encoding?: string };
  return b.encoding === 'base64' ? Buffer.from(b.data, 'base64').toString() : b.data;
}

/** Polls the record list until `count` records match; returns them. */
export async function recordsMatching(api: string, match: (r: ListedRecord) => boolean, count: number): Promise<ListedRecord[]> {
  for (let i = 0; i < 500; i++) {
    const found = (await listRecords(api)).filter(match);
    if (found.length === count) return found;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${count} matching records`);
}

/** Reads one metric sample (`name{labels}`) from /metrics. */
export async function metric(api: string, sample: string): Promise<number> {
  const text = await (await fetch(`${api}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? NaN : Number(line.slice(sample.length + 1));
}

/** Polls /metrics until the sample equals `value` (bounded); returns it. */
export async function waitMetric(api: string, sample: string, value: number): Promise<number> {
  let last = NaN;
  for (let i = 0; i < 500; i++) {
    last = await metric(api, sample);
    if (last === value) return last;
    await new Promise((r) => setTimeout(r, 20));
  }
  return last;
}

/** JSON answers of the echo servers and QProxy's errors: string fields only. */
export function parseJson(text: string): Record<string, string> {
  return JSON.parse(text) as Record<string, string>;
}
