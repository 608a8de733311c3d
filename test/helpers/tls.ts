import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * A throw-away PKI made with the openssl CLI at test time: a CA, a server certificate for
 * localhost / 127.0.0.1 and a client certificate, all P-256, valid for two days. Nothing is
 * committed; the folder is removed by `cleanup()`.
 */

const run = promisify(execFile);

/** A certificate and its private key, PEM. */
export interface CertPair {
  cert: string;
  key: string;
}

export interface TestPki {
  dir: string;
  /** CA certificate (PEM) that signed both leaves. */
  ca: string;
  /** SAN DNS:localhost, IP:127.0.0.1; extendedKeyUsage serverAuth. */
  server: CertPair;
  /** SAN DNS:qproxy-test-client; extendedKeyUsage clientAuth. */
  client: CertPair;
  cleanup(): Promise<void>;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  try {
    await run('openssl', args, { cwd: dir });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0]} failed: ${stderr.trim() || String(err)} — is the openssl CLI installed?`, { cause: err });
  }
}

async function leaf(dir: string, name: string, subject: string, ext: string): Promise<CertPair> {
  await writeFile(join(dir, `${name}.ext`), ext);
  await openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${name}.key`]);
  await openssl(dir, ['req', '-new', '-key', `${name}.key`, '-subj', subject, '-out', `${name}.csr`]);
  await openssl(dir, [
    'x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-days', '2', '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.pem`,
  ]);
  return {
    cert: await readFile(join(dir, `${name}.pem`), 'utf8'),
    key: await readFile(join(dir, `${name}.key`), 'utf8'),
  };
}

/** Generates a fresh CA with a server and a client certificate in a new temp folder. */
export async function makeTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'qproxy-pki-'));
  try {
    await openssl(dir, ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'ca.key']);
    await openssl(dir, [
      'req', '-x509', '-new', '-key', 'ca.key', '-sha256', '-days', '2', '-subj', '/CN=QProxy Test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-out', 'ca.pem',
    ]);
    const server = await leaf(
      dir,
      'server',
      '/CN=localhost',
      'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n',
    );
    const client = await leaf(
      dir,
      'client',
      '/CN=qproxy-test-client',
      'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\nsubjectAltName=DNS:qproxy-test-client\n',
    );
    const ca = await readFile(join(dir, 'ca.pem'), 'utf8');
    return { dir, ca, server, client, cleanup: () => rm(dir, { recursive: true, force: true }) };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
