import { Pool } from 'undici';

/** TLS settings for https:// targets of replay and forward-on-miss. */
export interface TargetTls {
  ca?: string | Buffer;
  rejectUnauthorized: boolean;
  servername?: string;
}

/**
 * One keep-alive pool per target origin, every phase (connect, response head, body) bounded by
 * `timeoutMs`. Used by the replayer and by serving's forward-on-miss alike.
 */
export function originPools(origins: readonly string[], tls: TargetTls, timeoutMs: number): Pool[] {
  return origins.map(
    (origin) =>
      new Pool(origin, {
        connect: {
          timeout: timeoutMs,
          ...(origin.startsWith('https:') && {
            rejectUnauthorized: tls.rejectUnauthorized,
            ...(tls.ca !== undefined && { ca: tls.ca }),
            ...(tls.servername !== undefined && { servername: tls.servername }),
          }),
        },
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      }),
  );
}
