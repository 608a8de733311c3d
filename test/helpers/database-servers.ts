/**
 * Real database servers for the protocol tests, each private to a test file: a PostgreSQL cluster
 * (Debian's postgresql, initdb into a temp folder) and a MariaDB server (mariadb-install-db, its own
 * datadir, socket and port). Neither server runs as root, so when the tests do (CI, this box) the
 * server processes are started as `nobody` through setpriv, which execs them directly (the pid
 * the test holds is the server's, so a signal reaches it); the temp folder is handed to nobody
 * first. As any other user they run as that user.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { chown, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import { freePort } from './ports.js';

const run = promisify(execFile);
const NOBODY = 65534;
const asRoot = process.getuid?.() === 0;

/** Runs `cmd` as nobody when the tests run as root. */
function command(cmd: string, args: string[]): [string, string[]] {
  return asRoot ? ['setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', '--', cmd, ...args]] : [cmd, args];
}

async function privateDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  if (asRoot) await chown(dir, NOBODY, NOBODY);
  return dir;
}


/** A server process and how to stop it (waits for it to exit, then removes its folder). */
export interface ServerProcess {
  port: number;
  dir: string;
  stop(): Promise<void>;
}

function serverProcess(child: ChildProcess, port: number, dir: string, signal: NodeJS.Signals): ServerProcess {
  const exited = once(child, 'exit');
  let stopping: Promise<void> | null = null;
  return {
    port,
    dir,
    stop() {
      stopping ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill(signal);
          await exited;
        }
        await rm(dir, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
}

/**
 * Starts servers side by side for one test, each stopped after it. When one fails to start, those
 * that did are stopped before the error is thrown: with Promise.all the test would end at the first
 * failure, the others would register their after-hooks on a test that had already ended, and a server
 * left running keeps the test file's process, and so the whole suite, from ever ending.
 */
export async function startAll<S extends ServerProcess>(t: TestContext, starts: ReadonlyArray<() => Promise<S>>): Promise<S[]> {
  const settled = await Promise.allSettled(starts.map((start) => start()));
  const started = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed !== undefined) {
    await Promise.all(started.map((server) => server.stop()));
    throw failed.reason;
  }
  for (const server of started) t.after(() => server.stop());
  return started;
}

/** Waits until `ready()` or the process exits; throws with its log when it never gets ready. */
async function waitReady(child: ChildProcess, ready: () => Promise<boolean>, log: () => string, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited: ${log()}`);
    if (await ready()) return;
    await delay(50);
  }
  throw new Error(`${what} did not get ready: ${log()}`);
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

async function postgresBin(): Promise<string> {
  const versions = (await readdir('/usr/lib/postgresql')).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0) throw new Error('no PostgreSQL under /usr/lib/postgresql (apt-get install postgresql)');
  return `/usr/lib/postgresql/${versions[0]}/bin`;
}

export interface Postgres extends ServerProcess {
  user: string;
  password: string;
  /** Environment for psql/pgbench: PGHOST, PGPORT, PGUSER, PGPASSWORD. */
  env(port?: number): NodeJS.ProcessEnv;
}

/**
 * A PostgreSQL cluster with one superuser and SCRAM-SHA-256 for every connection (PostgreSQL's
 * default method), tuned for tests (no fsync). Stopped with a fast shutdown.
 */
export async function startPostgres(opts: { user: string; password: string }): Promise<Postgres> {
  const bin = await postgresBin();
  const dir = await privateDir('qproxy-pg-');
  const pwfile = join(dir, 'pw');
  await writeFile(pwfile, `${opts.password}\n`);
  if (asRoot) await chown(pwfile, NOBODY, NOBODY);
  const data = join(dir, 'data');
  const [initCmd, initArgs] = command(join(bin, 'initdb'), ['-D', data, '-U', opts.user, '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync', '--no-instructions']);
  await run(initCmd, initArgs, { timeout: 60_000 });
  const port = await freePort();
  const settings = ['listen_addresses=127.0.0.1', 'fsync=off', 'synchronous_commit=off', 'full_page_writes=off', 'shared_buffers=16MB', 'max_connections=30', 'log_min_messages=warning'];
  const [cmd, args] = command(join(bin, 'postgres'), ['-D', data, '-p', String(port), '-k', dir, ...settings.flatMap((s) => ['-c', s])]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const server = serverProcess(child, port, dir, 'SIGINT');
  const env = (p = port): NodeJS.ProcessEnv => ({ ...process.env, PGHOST: '127.0.0.1', PGPORT: String(p), PGUSER: opts.user, PGPASSWORD: opts.password, PGSSLMODE: 'disable', PGCONNECT_TIMEOUT: '10' });
  try {
    await waitReady(child, () => run('pg_isready', ['-q', '-h', '127.0.0.1', '-p', String(port)]).then(() => true, () => false), () => log, 'postgres');
  } catch (err) {
    await server.stop();
    throw err;
  }
  return { ...server, user: opts.user, password: opts.password, env };
}

/** Runs psql with one command; returns its unaligned, tuples-only output. */
export async function psql(env: NodeJS.ProcessEnv, database: string, sql: string): Promise<string> {
  const { stdout } = await run('psql', ['-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1', '-d', database, '-c', sql], { env, timeout: 60_000 });
  return stdout.trim();
}

// ---------------------------------------------------------------------------------------------
// MariaDB

export interface Mariadb extends ServerProcess {
  socket: string;
  /** Runs SQL as root over the socket; returns tab-separated rows. */
  sql(statements: string): Promise<string>;
}

/** A MariaDB server with its own datadir, socket and port; root logs in over the socket. */
export async function startMariadb(): Promise<Mariadb> {
  const dir = await privateDir('qproxy-mariadb-');
  const data = join(dir, 'data');
  const socket = join(dir, 'sock');
  // A tmpdir of its own: at start-up (mariadb-install-db's bootstrap too) the server deletes every
  // "#sql*" file in its tmpdir, so two servers sharing /tmp delete each other's temporary tables
  // ("Unknown table 'mysql.tmp_user_sys'": about one install in twelve when two start together).
  const tmp = join(dir, 'tmp');
  await mkdir(tmp);
  if (asRoot) await chown(tmp, NOBODY, NOBODY);
  const [initCmd, initArgs] = command('mariadb-install-db', ['--no-defaults', `--datadir=${data}`, `--tmpdir=${tmp}`, '--auth-root-authentication-method=normal', '--skip-test-db', '--skip-name-resolve']);
  try {
    await run(initCmd, initArgs, { timeout: 120_000 });
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const port = await freePort();
  const [cmd, args] = command('mariadbd', [
    '--no-defaults',
    `--datadir=${data}`,
    `--tmpdir=${tmp}`,
    `--socket=${socket}`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    `--pid-file=${join(dir, 'pid')}`,
    '--skip-name-resolve',
    '--skip-log-bin',
    '--innodb-buffer-pool-size=16M',
    '--innodb-flush-log-at-trx-commit=0',
  ]);
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const server = serverProcess(child, port, dir, 'SIGTERM');
  const sql = async (statements: string): Promise<string> => {
    const { stdout } = await run('mariadb', ['--no-defaults', '-S', socket, '-uroot', '-N', '-B', '-e', statements], { timeout: 60_000 });
    return stdout.trim();
  };
  try {
    await waitReady(child, () => sql('SELECT 1').then(() => true, () => false), () => log, 'mariadbd');
  } catch (err) {
    await server.stop();
    throw err;
  }
  return { ...server, socket, sql };
}
