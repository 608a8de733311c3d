/**
 * A throw-away PKI for the demo's sync link, made with the openssl CLI in the demo's temp folder:
 * a CA and a server certificate for 127.0.0.1 / localhost (P-256, valid two days). Nothing is
 * installed anywhere; the folder goes away with the demo.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Paths of the PEM files the two nodes use. */
export interface DemoCerts {
  /** CA the Record node trusts (`peer.ca`). */
  caPath: string;
  /** The Playback node's sync listener certificate and key (`sync.tls`). */
  certPath: string;
  keyPath: string;
}

/** Either certificates, or why there are none (the demo then syncs over h2c with the token only). */
export type CertsOutcome = { ok: true; certs: DemoCerts } | { ok: false; reason: string };

const SERVER_EXT = [
  'basicConstraints=CA:FALSE',
  'keyUsage=critical,digitalSignature',
  'extendedKeyUsage=serverAuth',
  'subjectAltName=IP:127.0.0.1,DNS:localhost',
  '',
].join('\n');

/** Makes the CA and the sync listener's certificate in `dir`. Never throws: failures become `reason`. */
export async function makeDemoCerts(dir: string): Promise<CertsOutcome> {
  const ec = ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  try {
    await openssl(dir, ['genpkey', ...ec, '-out', 'ca.key']);
    await openssl(dir, [
      'req', '-x509', '-new', '-key', 'ca.key', '-sha256', '-days', '2', '-subj', '/CN=QProxy demo CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'ca.pem',
    ]);
    await writeFile(join(dir, 'sync.ext'), SERVER_EXT);
    await openssl(dir, ['genpkey', ...ec, '-out', 'sync.key']);
    await openssl(dir, ['req', '-new', '-key', 'sync.key', '-subj', '/CN=localhost', '-out', 'sync.csr']);
    await openssl(dir, [
      'x509', '-req', '-in', 'sync.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
      '-days', '2', '-sha256', '-extfile', 'sync.ext', '-out', 'sync.pem',
    ]);
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
  return { ok: true, certs: { caPath: join(dir, 'ca.pem'), certPath: join(dir, 'sync.pem'), keyPath: join(dir, 'sync.key') } };
}

async function openssl(dir: string, args: string[]): Promise<void> {
  try {
    await run('openssl', args, { cwd: dir });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new Error('the openssl command is not installed (or not on PATH)', { cause: err });
    const detail = (e.stderr ?? '').trim().split('\n')[0] || e.message;
    throw new Error(`openssl ${args[0]} failed: ${detail}`, { cause: err });
  }
}
