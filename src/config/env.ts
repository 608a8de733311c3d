/**
 * Environment overrides for secrets and the log level, applied to the raw JSON before validation so
 * the values are checked like any other (and errors say which variable they came from). Secrets in
 * the environment keep them out of config files (security.md §2).
 */

interface Override {
  env: string;
  path: readonly string[];
  /**
   * Whether the variable may create its section when the file has none. `peer` cannot be created
   * (it needs a host), so QPROXY_PEER_TOKEN only applies when the file has a peer section; likewise
   * `nats` (it needs servers, and its presence selects the backend) for the QPROXY_NATS_* ones, and
   * `forward.auth` (it needs a username) for QPROXY_FORWARD_PASSWORD.
   */
  createSection: boolean;
}

/** Every supported override, in the order they are applied. */
export const ENV_OVERRIDES: readonly Override[] = [
  { env: 'QPROXY_API_TOKEN', path: ['api', 'token'], createSection: true },
  { env: 'QPROXY_PEER_TOKEN', path: ['peer', 'token'], createSection: false },
  { env: 'QPROXY_SYNC_TOKEN', path: ['sync', 'token'], createSection: true },
  { env: 'QPROXY_NATS_TOKEN', path: ['nats', 'token'], createSection: false },
  { env: 'QPROXY_NATS_PASSWORD', path: ['nats', 'password'], createSection: false },
  { env: 'QPROXY_FORWARD_PASSWORD', path: ['forward', 'auth', 'password'], createSection: false },
  { env: 'QPROXY_TCP_AUTH_PASSWORD', path: ['playback', 'tcp', 'auth', 'password'], createSection: false },
  { env: 'QPROXY_REDACTION_KEY', path: ['recording', 'redaction', 'key'], createSection: true },
  { env: 'QPROXY_LOG_LEVEL', path: ['log', 'level'], createSection: true },
];

/** The input with overrides applied, and which printed path each override set. */
export interface EnvApplied {
  input: unknown;
  /** `"api.token"` → `"QPROXY_API_TOKEN"`, for error messages. */
  sources: Map<string, string>;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Returns a copy of `raw` with each set, non-empty variable written at its path. Nothing is written
 * when the file's value on the way is not an object: validation then reports the file's own error.
 */
export function applyEnvOverrides(raw: unknown, env: NodeJS.ProcessEnv): EnvApplied {
  const sources = new Map<string, string>();
  if (!isObject(raw)) return { input: raw, sources };
  const input = structuredClone(raw);
  for (const o of ENV_OVERRIDES) {
    const value = env[o.env];
    if (value === undefined || value === '') continue;
    if (setAt(input, o.path, value, o.createSection)) sources.set(o.path.join('.'), o.env);
  }
  return { input, sources };
}

function setAt(root: Json, path: readonly string[], value: string, create: boolean): boolean {
  let node = root;
  for (const key of path.slice(0, -1)) {
    if (!Object.hasOwn(node, key)) {
      if (!create) return false;
      node[key] = {};
    }
    const next = node[key];
    if (!isObject(next)) return false;
    node = next;
  }
  node[path[path.length - 1]!] = value;
  return true;
}
