/**
 * Waits until every promise in `work` has settled, or `deadlineMs` has passed, whichever comes
 * first; no timer stays behind. A link's shutdown gives what it has in flight this long to finish
 * (and be acknowledged), then cuts off the rest, which is sent again after the next start.
 */
export async function settleWithin(deadlineMs: number, work: Iterable<PromiseLike<unknown> | null | undefined>): Promise<void> {
  const pending = [...work].filter((p): p is PromiseLike<unknown> => p != null);
  if (pending.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadlineMs))));
  try {
    await Promise.race([Promise.allSettled(pending), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
