/**
 * For each TCP session still open, how many of its chunks the peer has acknowledged: the next time
 * the session shows up in the feed (it moves along the feed each time a segment is appended), only
 * the chunks from there on are sent. Kept in memory only: after a restart, or for a session
 * forgotten to the bound, the whole session is sent again and the receiver drops what it already
 * has (tcp-receive-state.ts), so losing a watermark costs bytes, never correctness.
 */
const MAX_SESSIONS = 100_000;

export class TcpWatermarks {
  private readonly acked = new Map<string, number>();

  /** Chunks of `id` the peer holds for sure (0 when unknown). */
  get(id: string): number {
    return this.acked.get(id) ?? 0;
  }

  /** The peer acknowledged chunks up to `end` of session `id`; a closed session is forgotten. */
  ack(id: string, end: number, closed: boolean): void {
    if (closed) {
      this.acked.delete(id);
      return;
    }
    const cur = this.acked.get(id) ?? 0;
    if (end <= cur) return;
    this.acked.delete(id);
    this.acked.set(id, end);
    if (this.acked.size > MAX_SESSIONS) this.acked.delete(this.acked.keys().next().value!);
  }

  get size(): number {
    return this.acked.size;
  }
}
