/**
 * Every error QProxy raises on purpose is a QProxyError with a stable `code`. Callers branch on
 * `code`, never on message text; codes are listed in docs/errors.md and never reused.
 */
export class QProxyError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Bad configuration or command-line usage: the process exits with code 2. */
export class ConfigError extends QProxyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('QP_ERR_CONFIG', message, options);
  }
}

/** The store could not be opened or used (corrupt file, newer schema, unwritable path). */
export class StoreError extends QProxyError {
  constructor(code: `QP_ERR_STORE_${string}`, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** The downstream could not be reached or did not answer in time. */
export class DownstreamError extends QProxyError {
  constructor(
    code: 'QP_ERR_DOWNSTREAM_CONNECT' | 'QP_ERR_DOWNSTREAM_TIMEOUT' | 'QP_ERR_DOWNSTREAM_RESET' | 'QP_ERR_DOWNSTREAM_PROTOCOL',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** A listener could not be started (port in use, bad certificate, unsafe bind). */
export class ListenError extends QProxyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('QP_ERR_LISTEN', message, options);
  }
}

/** QProxy's certificate authority: unusable CA files, files that would be overwritten, a name no certificate can carry. */
export class CaError extends QProxyError {
  constructor(code: 'QP_ERR_CA_INVALID' | 'QP_ERR_CA_EXISTS' | 'QP_ERR_CA_HOST', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** `err.code` when it is a string (Node, undici and QProxyError all use it), else "". */
export function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : '';
}
