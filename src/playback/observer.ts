import type { ResultStatus } from './results/result.js';

/**
 * What playback reports to metrics (`qproxy_playback_*`), so metrics stay a thin subscriber.
 * Calls come on the main thread; an observer must not throw.
 */
export interface PlaybackObserver {
  /** A record's result was decided; `kinds` are its difference kinds (mismatches only). */
  result(protocol: 'http' | 'tcp', status: ResultStatus, kinds: readonly string[]): void;
  /** A replayed request (or TCP session) ended, with or without an answer, after `seconds`. */
  replayed(protocol: 'http' | 'tcp', seconds: number): void;
  /** How late the scheduler started a replayed request, in seconds. */
  lateness(seconds: number): void;
  /** A client of a serving listener got a recorded answer (`hit`), none (`miss`), or a forwarded one. */
  served(protocol: 'http' | 'tcp', outcome: 'hit' | 'miss' | 'forwarded'): void;
}

/** An observer that ignores everything (tests, or a node without metrics). */
export const nullObserver: PlaybackObserver = {
  result() {},
  replayed() {},
  lateness() {},
  served() {},
};
