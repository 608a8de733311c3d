/** Temp folders and config files for the config tests (real files, removed after each test). */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';

/** The configuration example of the seed README (qproxy-README.zh-CN.md), byte for byte. */
export const SEED_EXAMPLE = `{
    "http": {
        "host": "127.0.0.1",
        "port": 8080,
        "downstream": "http://localhost:8081"
    },
    "tcp": {
        "host": "127.0.0.1",
        "port": 8082,
        "downstream": ["localhost:8083"],
        "tls": {
            "tls_cert": "cert.pem",
            "tls_key": "key.pem"
        }
    },
    "mode": "Record",
    "peer": {
        "host": "remote-host",
        "port": 8084,
        "tls": true
    }
}
`;

/** A fresh folder under the OS temp dir, removed when the test ends. */
export async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'qproxy-config-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `content` (a string as-is, anything else as JSON) to `dir/name`, creating folders. */
export async function writeConfig(dir: string, name: string, content: unknown): Promise<string> {
  const path = join(dir, name);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return path;
}

/** The smallest valid Record config. */
export function minimalRecord(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { mode: 'Record', http: { port: 8080, downstream: 'http://127.0.0.1:8081' }, ...extra };
}
