import type { SyncLogger } from '../store-port.js';

/** A link failure as the log needs it. */
export interface LoggedFailure {
  code: string;
  message: string;
  /** Credentials, certificates, versions: logged as errors; the rest (the network) as warnings. */
  operatorFix: boolean;
}

/**
 * What the log says about one sync link: a line when it comes up or back, and one per change of
 * failure rather than one per retry (a link retries for ever; a misconfigured one must not flood
 * the log). Status and metrics get every failure; this is only about log lines.
 */
export class LinkLog {
  private last: string | null = null;

  constructor(
    private readonly logger: SyncLogger,
    /** Starts each failure line, e.g. "sync" or "NATS sync". */
    private readonly prefix: string,
  ) {}

  /** What the log last said: null (nothing yet), 'up', or the key of the failure it reported. */
  get said(): string | null {
    return this.last;
  }

  /** Logs `f` unless the last line was about the same `key`. */
  failed(key: string, f: LoggedFailure, fields: object): void {
    if (this.last === key) return;
    this.last = key;
    const log = f.operatorFix ? this.logger.error.bind(this.logger) : this.logger.warn.bind(this.logger);
    log(fields, `${this.prefix}: ${f.message}`);
  }

  /** Logs `msg` unless the link was last reported up. */
  up(fields: object, msg: string): void {
    if (this.last === 'up') return;
    this.last = 'up';
    this.logger.info(fields, msg);
  }
}
