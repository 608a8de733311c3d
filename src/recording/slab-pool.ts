/**
 * Reused buffers that recorded bytes are copied into and that live until the store has written them
 * (a flush interval or more). Bytes kept as the socket read them would hold those reads' buffers that
 * long, past the young generation, and V8 then ran full mark-compacts every few hundred exchanges;
 * one copy into a slab lets the reads die young, and the slab is reused once every region cut from
 * it is released. Not thread-safe and not shared: each kind of capture has its own pool.
 */
export interface Slab {
  readonly buf: Buffer;
  /** Where the next region starts. */
  at: number;
  /** Regions handed out and not yet released. */
  live: number;
}

export class SlabPool {
  #current: Slab | null = null;
  readonly #free: Buffer[] = [];
  #allocated = 0;

  /**
   * @param slabBytes the size of each slab
   * @param freeMax slabs kept for reuse once all their regions were released; beyond this they are left to the GC
   */
  constructor(
    private readonly slabBytes: number,
    private readonly freeMax: number,
  ) {}

  /** How many slabs were allocated (every other slab used was reused). */
  get allocated(): number {
    return this.#allocated;
  }

  /**
   * The slab to cut the next region from, with at least `n` (≤ slabBytes) bytes free after `at`.
   * The caller cuts its region at `at`, then moves `at` past it and counts it in `live`.
   */
  slabFor(n: number): Slab {
    const s = this.#current;
    if (s !== null && s.buf.byteLength - s.at >= n) return s;
    if (s !== null && s.live === 0) this.#recycle(s);
    const fresh: Slab = { buf: this.#free.pop() ?? this.#newSlab(), at: 0, live: 0 };
    this.#current = fresh;
    return fresh;
  }

  /** One region of `s` is no longer read: the slab goes back for reuse when it was the last. */
  release(s: Slab): void {
    if (--s.live === 0 && s !== this.#current) this.#recycle(s);
  }

  #newSlab(): Buffer {
    this.#allocated++;
    return Buffer.allocUnsafeSlow(this.slabBytes);
  }

  #recycle(s: Slab): void {
    if (this.#free.length < this.freeMax) this.#free.push(s.buf);
  }
}
