/**
 * A start-up check of the file-handle limit against the connection limits in the configuration.
 * A process that runs out of handles accepts nothing on any listener — the API's included — and
 * says nothing about it, so an operator should hear at start that a flood could get there.
 */
import type { Logger } from '../core/log.js';
import { API_MAX_CONNECTIONS } from '../api/api-server.js';
import type { QProxyConfig } from '../config/schema.js';
import { readFdLimit } from '../net/fd-guard.js';

/** Handles a node holds besides connections: the store and its WAL, worker threads, stdio, pipes. */
const BASE_HANDLES = 64;

/** What the listeners may hold at their limits, by config key; unlimited (0) listeners are left out. */
export function connectionHandles(config: QProxyConfig): Record<string, number> {
  const parts: Record<string, number> = { api: API_MAX_CONNECTIONS, base: BASE_HANDLES };
  const record = config.mode === 'Record';
  const serving = !record && config.playback.serve.enabled;
  // A proxied connection holds two handles (client and downstream); a served one, one.
  const add = (key: string, max: number | undefined, perConnection: number): void => {
    if (max !== undefined && max > 0) parts[key] = max * perConnection;
  };
  if (record || serving) {
    add('http.limits.max_connections', config.http?.limits.max_connections, record ? 2 : 1);
    add('tcp.limits.max_connections', config.tcp?.limits.max_connections, record ? 2 : 1);
  }
  if (!record && config.nats === undefined) add('sync.max_connections', config.sync.max_connections, 1);
  return parts;
}

/** Warns when the soft RLIMIT_NOFILE is below what the connection limits may take. */
export function warnIfFileHandlesShort(config: QProxyConfig, logger: Logger, limit: number | null = readFdLimit()): void {
  if (limit === null) return;
  const parts = connectionHandles(config);
  const need = Object.values(parts).reduce((a, b) => a + b, 0);
  if (need <= limit) return;
  logger.warn(
    { file_handle_limit: limit, file_handles_needed: need, by_key: parts },
    `the file-handle limit (${limit}) is below what the connection limits may take (${need}): a connection flood would exhaust it and then every listener, the API's included, stops accepting — raise the limit (systemd LimitNOFILE=, docker --ulimit nofile=, ulimit -n) or lower the max_connections keys`,
  );
}
