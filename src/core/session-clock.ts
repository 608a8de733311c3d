import { performance } from 'node:perf_hooks';

/** How far the wall clock may move away from the monotonic one before the anchor follows it. */
const REANCHOR_MS = 1000;

let anchor = { wall: Date.now(), mono: performance.now() };

/**
 * A start time for a recorded session: `startedAt` is whole epoch milliseconds and `t0` the
 * `performance.now()` value of exactly that millisecond, so offsets measured from `t0` are offsets
 * from `startedAt`. `Date.now()` alone truncates up to a millisecond per session, which is enough
 * to invert two requests of sessions recorded side by side (a replay keeps their order). Both come
 * from one monotonic clock anchored on the wall clock, which is re-anchored when the wall clock is
 * stepped by more than a second.
 */
export function sessionStart(): { startedAt: number; t0: number } {
  const mono = performance.now();
  let now = anchor.wall + (mono - anchor.mono);
  const wall = Date.now();
  if (Math.abs(wall - now) > REANCHOR_MS) {
    anchor = { wall, mono };
    now = wall;
  }
  const startedAt = Math.floor(now);
  return { startedAt, t0: mono - (now - startedAt) };
}
