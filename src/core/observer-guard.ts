import { errorMessage } from './errors.js';
import type { Logger } from './log.js';

/**
 * Calls `fn` with the observer, if there is one. Observers are subscribers (metrics): one that
 * throws has a bug of its own, which is logged and never breaks the flow that reported to it.
 * `what` names the observer in the log line ("sync metrics observer threw; ignored").
 */
export function notifyObserver<O>(observer: O | null | undefined, logger: Pick<Logger, 'warn'>, what: string, fn: (o: O) => void): void {
  if (!observer) return;
  try {
    fn(observer);
  } catch (err) {
    logger.warn({ err: errorMessage(err) }, `${what} observer threw; ignored`);
  }
}
