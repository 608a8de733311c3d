/**
 * The files a config names — certificates, keys, CA bundles, the NATS credentials file — listed in
 * one place. The loader resolves them against the config file's folder; `qproxy check-config` and a
 * starting node both run {@link checkConfigFiles} on them, so check-config cannot say OK to a config
 * the node then refuses to start from.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, errorMessage } from '../core/errors.js';
import type { QProxyConfig } from './schema.js';

/** What a named file must hold. */
type FileRole = 'cert' | 'key' | 'ca' | 'creds';

/** Every config field that names a file to read, as a path into the parsed config. */
const FILE_FIELDS: ReadonlyArray<{ path: readonly string[]; role: FileRole }> = [
  ...(['http', 'tcp', 'sync'] as const).flatMap((section) => [
    { path: [section, 'tls', 'tls_cert'], role: 'cert' as const },
    { path: [section, 'tls', 'tls_key'], role: 'key' as const },
    { path: [section, 'tls', 'ca'], role: 'ca' as const },
  ]),
  { path: ['http', 'downstream_tls', 'ca'], role: 'ca' },
  { path: ['tcp', 'downstream_tls', 'ca'], role: 'ca' },
  { path: ['peer', 'ca'], role: 'ca' },
  { path: ['peer', 'cert'], role: 'cert' },
  { path: ['peer', 'key'], role: 'key' },
  { path: ['nats', 'tls', 'ca'], role: 'ca' },
  { path: ['nats', 'tls', 'cert'], role: 'cert' },
  { path: ['nats', 'tls', 'key'], role: 'key' },
  { path: ['nats', 'creds'], role: 'creds' },
  { path: ['forward', 'ca', 'cert'], role: 'cert' },
  { path: ['forward', 'ca', 'key'], role: 'key' },
  { path: ['forward', 'upstream_ca'], role: 'ca' },
];

/** One file the config names. */
export interface NamedFile {
  /** The field, as printed: "http.tls.tls_cert". */
  field: string;
  /** The section holding the field ("http.tls", "peer"): a certificate and its key pair up within it. */
  group: string;
  role: FileRole;
  path: string;
}

type Node = Record<string, unknown>;

function childOf(node: unknown, key: string): Node | undefined {
  return typeof node === 'object' && node !== null ? ((node as Node)[key] as Node | undefined) : undefined;
}

/** The object holding each named file's field, and the field's key (sections and `nats.tls: true` without files are skipped). */
function fileSlots(config: unknown): Array<{ holder: Node; key: string; group: string; role: FileRole }> {
  const slots = [];
  for (const { path, role } of FILE_FIELDS) {
    let holder: unknown = config;
    for (const key of path.slice(0, -1)) holder = childOf(holder, key);
    const key = path[path.length - 1]!;
    if (typeof holder === 'object' && holder !== null && typeof (holder as Node)[key] === 'string') {
      slots.push({ holder: holder as Node, key, group: path.slice(0, -1).join('.'), role });
    }
  }
  return slots;
}

/** Every file the config names, in a fixed order. */
export function namedFiles(config: QProxyConfig): NamedFile[] {
  return fileSlots(config).map(({ holder, key, group, role }) => ({ field: `${group}.${key}`, group, role, path: holder[key] as string }));
}

/** Rewrites every named file's path with `fn` (the loader makes them absolute); mutates a fresh, unfrozen parse. */
export function mapFilePaths(config: QProxyConfig, fn: (path: string) => string): void {
  for (const { holder, key } of fileSlots(config)) holder[key] = fn(holder[key] as string);
}

/** Reads a file the config names; a missing or unreadable one is a ConfigError naming the field. */
export function readConfigFile(path: string, field: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`${field}: cannot read "${path}" (${errorMessage(err)}) — check the path and the file's permissions (relative paths are resolved against the config file's folder)`, {
      cause: err,
    });
  }
}

/**
 * Checks every file the config names, whether or not this mode uses it: it can be read, a
 * certificate or CA bundle holds a PEM certificate, a key is an unencrypted private key, and a key
 * belongs to the certificate next to it. Node's own TLS setup fails on each of these at start.
 *
 * @throws ConfigError listing every problem, one per line.
 */
export function checkConfigFiles(config: QProxyConfig): void {
  const problems: string[] = [];
  const loaded = new Map<NamedFile, Buffer>();
  for (const file of namedFiles(config)) {
    try {
      loaded.set(file, readConfigFile(file.path, file.field));
    } catch (err) {
      problems.push(errorMessage(err));
    }
  }
  const parsed = new Map<NamedFile, X509Certificate | KeyObject>();
  for (const [file, bytes] of loaded) {
    const problem = contentProblem(file, bytes, (value) => parsed.set(file, value));
    if (problem !== null) problems.push(`${file.field}: "${file.path}" ${problem}`);
  }
  problems.push(...mismatches(parsed));
  if (problems.length > 0) throw new ConfigError(problems.join('\n'));
}

/** Null when the file holds what its role needs (the parsed certificate or key goes to `keep`), else what is wrong. */
function contentProblem(file: NamedFile, bytes: Buffer, keep: (value: X509Certificate | KeyObject) => void): string | null {
  try {
    switch (file.role) {
      case 'cert':
      case 'ca':
        // Parses the first certificate; Node's TLS would otherwise take a CA file without one and trust nothing.
        keep(new X509Certificate(bytes));
        return null;
      case 'key':
        keep(createPrivateKey(bytes));
        return null;
      case 'creds':
        return bytes.includes('-----BEGIN NATS USER JWT-----') ? null : 'is not a NATS credentials file (no "-----BEGIN NATS USER JWT-----" block) — use the .creds file nsc or your NATS operator made';
    }
  } catch (err) {
    const what = file.role === 'key' ? 'an unencrypted PEM private key' : file.role === 'ca' ? 'a PEM CA bundle (one or more certificates)' : 'a PEM certificate';
    return `is not ${what} (${errorMessage(err)})`;
  }
}

/** A key that does not belong to the certificate of its section. */
function mismatches(parsed: ReadonlyMap<NamedFile, X509Certificate | KeyObject>): string[] {
  const out: string[] = [];
  const files = [...parsed.keys()];
  for (const key of files.filter((f) => f.role === 'key')) {
    const cert = files.find((f) => f.group === key.group && f.role === 'cert');
    if (cert === undefined) continue;
    const x509 = parsed.get(cert) as X509Certificate;
    if (!x509.checkPrivateKey(parsed.get(key) as KeyObject)) {
      out.push(`${key.field}: the key in "${key.path}" does not belong to the certificate in ${cert.field} ("${cert.path}") — use the key the certificate was made for`);
    }
  }
  return out;
}
