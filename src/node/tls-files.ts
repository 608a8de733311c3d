import { readFileSync } from 'node:fs';
import { ConfigError, errorMessage } from '../errors.js';

/** Reads a PEM file named in the config; a missing or unreadable file is a configuration error. */
export function readPem(path: string, field: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`${field}: cannot read "${path}" (${errorMessage(err)}) — check the path (relative paths are resolved against the config file's folder)`, { cause: err });
  }
}
