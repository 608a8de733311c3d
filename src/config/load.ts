/**
 * Finds, reads, parses and validates the config file, applies environment overrides, resolves file
 * paths against the file's folder and freezes the result. Every failure is a ConfigError whose
 * message names the file and lists every problem, one per line.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { ConfigError, errorMessage } from '../core/errors.js';
import { applyEnvOverrides } from './env.js';
import { checkConfigFiles, mapFilePaths } from './files.js';
import { formatIssues } from './issues.js';
import { parseJson } from './parse-json.js';
import { configSchema, type QProxyConfig } from './schema.js';
import { describeConfig } from './summary.js';

export { formatIssues } from './issues.js';

/** Where to look for the config, and the process context (both injectable for tests). */
export interface LoadConfigOptions {
  /** Explicit config path; wins over `$CONFIG_PATH` and `./config.json`. */
  path?: string;
  /** Environment for CONFIG_PATH and the QPROXY_* overrides; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Folder relative paths (the config path itself) are resolved against; default `process.cwd()`. */
  cwd?: string;
}

/** A validated config and the absolute path of the file it came from. */
export interface LoadedConfig {
  /** Deeply frozen; sizes are bytes, durations milliseconds, file paths absolute. */
  config: QProxyConfig;
  path: string;
}

/**
 * Loads the config: path precedence is `opts.path`, then `$CONFIG_PATH`, then `config.json` in
 * `cwd`. Environment overrides: QPROXY_API_TOKEN, QPROXY_PEER_TOKEN, QPROXY_SYNC_TOKEN,
 * QPROXY_NATS_TOKEN, QPROXY_NATS_PASSWORD, QPROXY_FORWARD_PASSWORD, QPROXY_REDACTION_KEY, QPROXY_LOG_LEVEL.
 *
 * @throws ConfigError when the file is missing or unreadable, is not JSON, or is not a valid config.
 */
export function loadConfig(opts: LoadConfigOptions = {}): LoadedConfig {
  const env = opts.env ?? process.env;
  const cwd = opts.cwd ?? process.cwd();
  const chosen = choosePath(opts.path, env);
  const path = resolve(cwd, chosen.path);
  const label = displayName(path, cwd);
  const raw = parseJson(readConfigText(path, chosen.origin), label);
  const { input, sources } = applyEnvOverrides(raw, env);
  const result = configSchema.safeParse(input);
  if (!result.success) {
    const lines = formatIssues(result.error.issues, { input, file: label, sources });
    throw new ConfigError(lines.join('\n'), { cause: result.error });
  }
  resolveFilePaths(result.data, dirname(path));
  return { config: deepFreeze(result.data), path };
}

/**
 * Validates one file for `qproxy check-config` and describes what a node would start from it: the
 * config as {@link loadConfig} does, then the files it names as a starting node does
 * ({@link checkConfigFiles}).
 *
 * @returns `summary`: a header line, then one line per listener the node would open.
 * @throws ConfigError for an invalid config or an unusable file it names.
 */
export function checkConfigFile(path: string, opts: Omit<LoadConfigOptions, 'path'> = {}): { ok: true; summary: string } {
  const loaded = loadConfig({ ...opts, path });
  checkConfigFiles(loaded.config);
  return { ok: true, summary: describeConfig(loaded.config, loaded.path).join('\n') };
}

type Origin = 'argument' | 'env' | 'default';

function choosePath(explicit: string | undefined, env: NodeJS.ProcessEnv): { path: string; origin: Origin } {
  if (explicit !== undefined && explicit !== '') return { path: explicit, origin: 'argument' };
  const fromEnv = env.CONFIG_PATH;
  if (fromEnv !== undefined && fromEnv !== '') return { path: fromEnv, origin: 'env' };
  return { path: 'config.json', origin: 'default' };
}

/** Paths inside the working folder are shown relative ("config.json"), others absolute. */
function displayName(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

function readConfigText(path: string, origin: Origin): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const how =
      origin === 'default'
        ? 'no config file in the working directory — create config.json, or point at one with CONFIG_PATH=/path/to/config.json'
        : origin === 'env'
          ? 'CONFIG_PATH names a file that cannot be read — fix CONFIG_PATH or unset it to use ./config.json'
          : 'check the path, or set CONFIG_PATH=/path/to/config.json instead';
    const what = code === 'ENOENT' ? 'config file not found' : `cannot read config file (${errorMessage(err)})`;
    throw new ConfigError(`${what}: ${path} — ${how}`, { cause: err });
  }
}

/** Makes every file path absolute, relative to the config file's folder (mutates the fresh parse). */
function resolveFilePaths(config: QProxyConfig, dir: string): void {
  mapFilePaths(config, (p) => resolve(dir, p));
  config.storage.path = resolve(dir, config.storage.path);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
