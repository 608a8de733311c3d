import { readConfigFile } from '../config/files.js';

/**
 * Reads a PEM file named in the config; a missing or unreadable file is a configuration error. The
 * node checked every named file when it was created (config/files.ts); this read says the same if
 * one went away since.
 */
export function readPem(path: string, field: string): Buffer {
  return readConfigFile(path, field);
}
