/**
 * Real nats-server processes for tests: each on an ephemeral loopback port with its own temporary
 * store folder, stopped by PID after the test. Debian's nats-server (2.9) is at /usr/sbin; CI
 * installs the same package. NATS_SERVER overrides the path.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

export const NATS_SERVER_BIN = process.env.NATS_SERVER ?? (existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server');

export interface NatsServerOptions {
  /** Run with JetStream (default true). */
  jetstream?: boolean;
  /** Largest message the server accepts (server max_payload). */
  maxPayload?: number;
  /** JetStream domain (zone A / zone B setups). */
  domain?: string;
  /** Accept leafnode connections (on an ephemeral port). */
  leafListen?: boolean;
  /** Connect as a leafnode to these ports (the other zones). */
  leafRemote?: number | number[];
  /** Server name shown in logs. */
  name?: string;
  /** An `authorization { … }` block, as written in a server config (users and permissions). */
  authorization?: string;
}

export interface NatsServer {
  readonly port: number;
  readonly url: string;
  /** Leafnode port, when leafListen was set. */
  readonly leafPort: number | null;
  readonly dir: string;
  pid(): number;
  /** SIGKILL: no flush, no goodbye. */
  kill(): Promise<void>;
  /** Starts the server again on the same port with the same store folder. */
  restart(): Promise<void>;
}

function configText(o: NatsServerOptions, dir: string, port: number, leafPort: number): string {
  const lines = [`listen: 127.0.0.1:${port}`, `server_name: ${o.name ?? 'qproxy-test'}`];
  if (o.maxPayload !== undefined) lines.push(`max_payload: ${o.maxPayload}`);
  if (o.authorization !== undefined) lines.push(`authorization { ${o.authorization} }`);
  if (o.jetstream !== false) lines.push(`jetstream { store_dir: "${join(dir, 'js')}"${o.domain ? `, domain: ${o.domain}` : ''} }`);
  if (o.leafListen) lines.push(`leafnodes { listen: 127.0.0.1:${leafPort} }`);
  if (o.leafRemote !== undefined) {
    const remotes = [o.leafRemote].flat().map((p) => `{ url: "nats-leaf://127.0.0.1:${p}" }`);
    lines.push(`leafnodes { remotes: [ ${remotes.join(', ')} ] }`);
  }
  return `${lines.join('\n')}\n`;
}

interface Launched {
  child: ChildProcess;
  port: number;
  leafPort: number | null;
}

async function launch(o: NatsServerOptions, dir: string, port: number, leafPort: number): Promise<Launched> {
  const conf = join(dir, 'server.conf');
  await writeFile(conf, configText(o, dir, port, leafPort));
  const child = spawn(NATS_SERVER_BIN, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  return new Promise<Launched>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`nats-server did not get ready within 10 s:\n${log}`));
    }, 10_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${NATS_SERVER_BIN} (${err.message}); install nats-server (apt-get install nats-server) or set NATS_SERVER`));
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited with ${code} before it was ready:\n${log}`));
    });
    child.stderr.on('data', (c: Buffer) => {
      log += c.toString();
      if (!log.includes('Server is ready')) return;
      const client = /Listening for client connections on [^\s]+:(\d+)/.exec(log);
      const leaf = /Listening for leafnode connections on [^\s]+:(\d+)/.exec(log);
      clearTimeout(timer);
      child.removeAllListeners('exit');
      child.stderr.removeAllListeners('data');
      child.stderr.resume();
      resolve({ child, port: Number(client![1]), leafPort: leaf ? Number(leaf[1]) : null });
    });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

/** Starts a nats-server (JetStream on unless `jetstream: false`) and stops it after the test. */
export async function startNatsServer(t: TestContext, o: NatsServerOptions = {}): Promise<NatsServer> {
  const dir = await mkdtemp(join(tmpdir(), 'qproxy-nats-'));
  let current = await launch(o, dir, -1, -1);
  const { port, leafPort } = current;
  t.after(async () => {
    await stop(current.child);
    await rm(dir, { recursive: true, force: true });
  });
  return {
    port,
    url: `nats://127.0.0.1:${port}`,
    leafPort,
    dir,
    pid: () => current.child.pid!,
    kill: () => stop(current.child),
    async restart() {
      await stop(current.child);
      current = await launch(o, dir, port, leafPort ?? -1);
    },
  };
}

/**
 * Zone A and zone B: two servers with their own JetStream domains ("A", "B"), B connected to A as a
 * leafnode, so a stream in B can mirror A's stream across the link.
 */
export async function startZones(t: TestContext): Promise<{ a: NatsServer; b: NatsServer }> {
  const a = await startNatsServer(t, { domain: 'A', leafListen: true, name: 'zone-a' });
  const b = await startNatsServer(t, { domain: 'B', leafRemote: a.leafPort!, name: 'zone-b' });
  return { a, b };
}

/**
 * Two zone A sites (domains "A1", "A2", each with a leafnode listener) and zone B (domain "B"),
 * connected to both as a leafnode, so a stream in B can source the streams of both sites.
 */
export async function startSites(t: TestContext): Promise<{ a1: NatsServer; a2: NatsServer; b: NatsServer }> {
  const a1 = await startNatsServer(t, { domain: 'A1', leafListen: true, name: 'site-a1' });
  const a2 = await startNatsServer(t, { domain: 'A2', leafListen: true, name: 'site-a2' });
  const b = await startNatsServer(t, { domain: 'B', leafRemote: [a1.leafPort!, a2.leafPort!], name: 'zone-b' });
  return { a1, a2, b };
}
