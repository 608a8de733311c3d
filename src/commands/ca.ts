/**
 * `qproxy ca create` and `qproxy ca show`: the certificate authority the forward proxy intercepts
 * HTTPS with. `create` writes `ca.pem` (to hand to the applications that must trust it) and
 * `ca-key.pem` (mode 0600, for QProxy only) and says how to trust the CA; `show` prints the
 * fingerprint to compare with what a client or trust store shows.
 */
import { chmod, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { CaError, errorMessage } from '../core/errors.js';
import { createCa, describeCertificate } from '../tls/index.js';
import { UsageError, parseCommandArgs } from './args.js';
import { EXIT, runCommand, type CommandIo } from './command.js';
import { FileError } from './export.js';

export const CA_USAGE = `Usage: qproxy ca create [--out DIR] [--force] [--name CN]
       qproxy ca show [--out DIR | --cert FILE]

create  writes DIR/ca.pem (the CA certificate applications trust) and DIR/ca-key.pem (its private
        key, mode 0600, for QProxy only), then prints how to trust the CA and how to configure
        the forward proxy with it. Refuses to overwrite existing files unless --force.
show    prints the subject, validity and SHA-256 fingerprint of DIR/ca.pem (or FILE).

Options:
  --out DIR     folder of ca.pem and ca-key.pem (default: the working directory)
  --cert FILE   show this certificate instead of DIR/ca.pem
  --force       create: replace existing files (clients must then trust the new CA)
  --name CN     create: the CA's common name (default "QProxy CA <host name>")
  -h, --help    this help

Exit codes: 0 done, 1 the files exist (create without --force) or cannot be read or written, 2 bad usage.`;

const OPTIONS = {
  out: { type: 'string' },
  cert: { type: 'string' },
  force: { type: 'boolean' },
  name: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Runs `qproxy ca …`. */
export function caCommand(args: string[], io: CommandIo): Promise<number> {
  return runCommand('ca', CA_USAGE, io, async () => {
    const { values, positionals } = parseCommandArgs(args, OPTIONS);
    if (values.help) {
      io.stdout.write(`${CA_USAGE}\n`);
      return EXIT.ok;
    }
    const [action, ...extra] = positionals;
    if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
    const dir = resolve(values.out ?? '.');
    if (action === 'create') {
      if (values.cert !== undefined) throw new UsageError('--cert is for "ca show"; create writes DIR/ca.pem (use --out DIR)');
      return create(dir, values.force === true, values.name ?? defaultName(), io);
    }
    if (action === 'show') {
      if (values.force !== undefined || values.name !== undefined) throw new UsageError('--force and --name are for "ca create"');
      return show(values.cert !== undefined ? resolve(values.cert) : join(dir, 'ca.pem'), io);
    }
    throw new UsageError(action === undefined ? 'missing action: create or show' : `unknown action ${JSON.stringify(action)}: expected create or show`);
  });
}

function defaultName(): string {
  // RFC 5280 caps a CommonName at 64 characters.
  return `QProxy CA ${hostname()}`.slice(0, 64);
}

async function create(dir: string, force: boolean, name: string, io: CommandIo): Promise<number> {
  if (name === '' || name.length > 64) throw new UsageError('--name must be 1-64 characters');
  const certPath = join(dir, 'ca.pem');
  const keyPath = join(dir, 'ca-key.pem');
  const { certPem, keyPem } = await createCa(name, 'QProxy');
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    throw new FileError(`cannot create ${dir}: ${errorMessage(err)}`, { cause: err });
  }
  // The key first: a failure then leaves no certificate whose key is missing.
  await writeNew(keyPath, keyPem, 0o600, force);
  await writeNew(certPath, certPem, 0o644, force);
  const fp = describeCertificate(certPem, certPath).fingerprint256;
  io.stdout.write(`${createdText(certPath, keyPath, name, fp)}\n`);
  return EXIT.ok;
}

/**
 * Writes through a temporary file created with the final mode (so the key is never readable by
 * others, not even for a moment), then renames it into place; without `force` an existing file is
 * an error, checked by an exclusive create of the temporary name and of the target.
 */
async function writeNew(path: string, text: string, mode: number, force: boolean): Promise<void> {
  if (!force) {
    try {
      const probe = await open(path, 'wx', mode);
      await probe.close();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new CaError('QP_ERR_CA_EXISTS', `${path} exists; a new CA would not be trusted where the old one is — keep it, or pass --force to replace it`);
      }
      throw new FileError(`cannot write ${path}: ${errorMessage(err)}`, { cause: err });
    }
  }
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    const file = await open(tmp, 'w', mode);
    try {
      await file.writeFile(text);
      await file.sync();
    } finally {
      await file.close();
    }
    await chmod(tmp, mode);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    if (!force) await rm(path, { force: true });
    throw new FileError(`cannot write ${path}: ${errorMessage(err)}`, { cause: err });
  }
}

function createdText(certPath: string, keyPath: string, name: string, fingerprint: string): string {
  return `Created the QProxy CA "${name}"
  certificate  ${certPath}
  private key  ${keyPath}  (mode 0600: QProxy only; whoever holds it can impersonate any site to clients that trust the CA)
  SHA-256      ${fingerprint}

Use it in the forward proxy (config.json):
  "forward": { "port": 8086, "ca": { "cert": "${certPath}", "key": "${keyPath}" } }

Trust it in the applications that go through the proxy (only there):
  curl            curl --cacert ${certPath} -x http://127.0.0.1:8086 https://api.example.com/
  Node.js         NODE_EXTRA_CA_CERTS=${certPath} HTTPS_PROXY=http://127.0.0.1:8086 node app.js
  Python requests REQUESTS_CA_BUNDLE=${certPath} HTTPS_PROXY=http://127.0.0.1:8086 python3 app.py
                  (this replaces certifi's bundle: for hosts the proxy tunnels, append ca.pem to a
                  copy of that bundle instead)
  Debian/Ubuntu   sudo cp ${certPath} /usr/local/share/ca-certificates/qproxy-ca.crt && sudo update-ca-certificates`;
}

async function show(path: string, io: CommandIo): Promise<number> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    throw new FileError(`cannot read ${path}: ${errorMessage(err)} — create a CA with \`qproxy ca create\` or name it with --cert`, { cause: err });
  }
  const s = describeCertificate(pem, path);
  io.stdout.write(`certificate  ${path}\nsubject      ${s.subject}\nvalid        ${s.notBefore} — ${s.notAfter}\nSHA-256      ${s.fingerprint256}\n`);
  return EXIT.ok;
}
