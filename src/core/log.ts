import { pino, type LevelWithSilent } from 'pino';

/**
 * What components log through: the slice of pino they use. Components take a `Logger` (or a
 * `Pick<Logger, …>` of the methods they call), so tests can pass anything with these methods and
 * only the process entry points know that it is pino.
 */
export interface Logger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

/** The logger of the process: pino, with the flush the entry points need before exiting. */
export type RootLogger = pino.Logger;

/**
 * One JSON object per line on stdout (pino). Never log bodies or secrets; the redact list covers the
 * header names that may appear in error objects.
 */
export function createLogger(level: LevelWithSilent, nodeId: string, destination?: pino.DestinationStream): RootLogger {
  return pino(
    {
      level,
      base: { node_id: nodeId },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: ['*.authorization', '*.cookie', '*.token', 'headers.authorization', 'headers.cookie'],
        censor: '[redacted]',
      },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}
