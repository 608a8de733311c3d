import { pino, type Logger, type LevelWithSilent } from 'pino';

/**
 * One JSON object per line on stdout (pino). Never log bodies or secrets; the redact list covers the
 * header names that may appear in error objects.
 */
export function createLogger(level: LevelWithSilent, nodeId: string, destination?: pino.DestinationStream): Logger {
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

export type { Logger };
