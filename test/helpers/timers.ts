/**
 * For checks that something does NOT happen ("no health check after close", "no second segment
 * while nothing changed"): wait for `rounds` timers of `ms`, armed one after another, instead of a
 * fixed sleep. A timer of the code under test that is due by then fires before each of these (the
 * event loop runs expired timers in order), so however loaded the machine, the code has had about
 * `rounds` turns of its own timers and at least `rounds × ms` of wall-clock time has passed.
 */
export async function timerRounds(ms: number, rounds: number): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setTimeout(resolve, ms));
}
