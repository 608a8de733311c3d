import { randomBytes } from 'node:crypto';
import type { RecordImporter } from '../api/api-server.js';
import type { QProxyConfig } from '../config/schema.js';
import type { QRecord } from '../recording/model.js';
import { Redactor } from '../recording/redaction.js';

interface MetaStore {
  getMeta(key: string): string | null;
  setMeta(key: string, value: string): Promise<void>;
}

/** The node's redactor (null when redaction is off), shared by everything that records. */
export async function createRedactor(config: QProxyConfig, store: MetaStore): Promise<Redactor | null> {
  const r = config.recording.redaction;
  if (!r.enabled) return null;
  return new Redactor({
    enabled: true,
    key: await redactionKey(config, store),
    headers: r.headers,
    queryParams: r.query_params,
    jsonPaths: r.json_paths,
    bodyPatterns: r.body_patterns,
    replaceDefaults: r.replace_defaults,
  });
}

/**
 * The HMAC key for redaction digests: from the config (or QPROXY_REDACTION_KEY) when given,
 * otherwise generated once and kept in the store so digests stay stable across restarts.
 */
async function redactionKey(config: QProxyConfig, store: MetaStore): Promise<string> {
  const configured = config.recording.redaction.key;
  if (configured) return configured;
  const kept = store.getMeta('redaction_key');
  if (kept) return kept;
  const key = randomBytes(32).toString('base64url');
  await store.setMeta('redaction_key', key);
  return key;
}

/**
 * The store's ingest for imported records (HAR), behind the node's redaction rules: an imported
 * record is redacted exactly as a recorded one, before anything is stored. A redaction failure
 * fails the import (nothing stored) rather than storing the record unredacted.
 */
export function redactingImporter(store: RecordImporter, redactor: Redactor | null): RecordImporter {
  if (redactor === null) return store;
  return {
    ingest: (records: QRecord[]) => store.ingest(records.map((r) => (r.protocol === 'http' ? redactor.redactRecord(r) : r))),
  };
}
