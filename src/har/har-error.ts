import { QProxyError } from '../core/errors.js';

/**
 * A HAR document QProxy cannot import. The message starts with the JSON path of the first problem
 * (`log.entries[3].request.url: expected an absolute http(s) URL`) so the file can be fixed by hand.
 * The API answers it with 400.
 */
export class HarError extends QProxyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('QP_ERR_HAR_INVALID', message, options);
  }
}

/** `["log", "entries", 3, "request"]` → `log.entries[3].request`. */
export function harPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out === '' ? '(document)' : out;
}

/** A HarError for one value: `path: what`. */
export function harInvalid(path: readonly PropertyKey[], what: string): HarError {
  return new HarError(`${harPath(path)}: ${what}`);
}
