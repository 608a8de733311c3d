/**
 * The unread bytes of one direction. Reads are kept as a list and joined only when a message
 * needs bytes from more than one of them; a reader that knows how long the message is says so
 * (`need`), so a large message arriving in many reads is joined once, not once per read.
 */
export class ByteQueue {
  #parts: Buffer[] = [];
  #size = 0;
  /** Stream offset of the first unread byte. */
  offset = 0;
  /** Bytes needed before the next attempt is worth making (0: try with what is there). */
  need = 0;

  get size(): number {
    return this.#size;
  }

  push(data: Buffer): void {
    if (data.length === 0) return;
    this.#parts.push(data);
    this.#size += data.length;
  }

  /** True when there are bytes and at least `need` of them. */
  get ready(): boolean {
    return this.#size > 0 && this.#size >= this.need;
  }

  /** The unread bytes as one Buffer (joined once and kept joined). */
  peek(): Buffer {
    if (this.#parts.length === 1) return this.#parts[0]!;
    const joined = Buffer.concat(this.#parts, this.#size);
    this.#parts = joined.length > 0 ? [joined] : [];
    return joined;
  }

  /** Takes the first `n` bytes (n ≤ size) as a view. */
  take(n: number): Buffer {
    const all = this.peek();
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.#parts = rest.length > 0 ? [rest] : [];
    this.#size -= n;
    this.offset += n;
    this.need = 0;
    return out;
  }
}
