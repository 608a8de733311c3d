/**
 * Recorded TCP sessions as serving finds them: by the first bytes the client sent, then by the
 * whole client stream. Sessions with the same client stream form a sequence: repeated identical
 * conversations get the recorded sessions in order, then the last one again.
 */
import { createHash } from 'node:crypto';
import type { TcpRecord } from '../../recording/model.js';

/** Client bytes kept per session for the first filtering. */
export const PREFIX_BYTES = 256;

export interface TcpEntry {
  id: string;
  started: number;
  /** The first client bytes (at most PREFIX_BYTES). */
  prefix: Buffer;
  /** Digest of the whole client stream. */
  digest: string;
  /** The server spoke first (a greeting before any client byte). */
  serverFirst: boolean;
}

interface Sequence {
  entries: TcpEntry[];
  next: number;
}

export function clientStream(r: TcpRecord): Buffer {
  return Buffer.concat(r.chunks.filter((c) => c.dir === 'c2s').map((c) => c.data));
}

export function streamDigest(data: Buffer): string {
  return createHash('sha256').update(data).digest('base64url');
}

export class TcpStubIndex {
  private readonly byDigest = new Map<string, Sequence>();
  private readonly ids = new Set<string>();

  get size(): number {
    return this.ids.size;
  }

  /** Indexes a closed session with at least one chunk; open ones are skipped (they come back when closed). */
  add(r: TcpRecord): void {
    if (r.state !== 'closed' || r.chunks.length === 0 || this.ids.has(r.id)) return;
    const stream = clientStream(r);
    const entry: TcpEntry = {
      id: r.id,
      started: r.started_at,
      prefix: Buffer.from(stream.subarray(0, PREFIX_BYTES)),
      digest: streamDigest(stream),
      serverFirst: r.chunks[0]!.dir === 's2c',
    };
    let seq = this.byDigest.get(entry.digest);
    if (seq === undefined) {
      seq = { entries: [], next: 0 };
      this.byDigest.set(entry.digest, seq);
    }
    seq.entries.push(entry);
    seq.entries.sort((a, b) => a.started - b.started || (a.id < b.id ? -1 : 1));
    this.ids.add(r.id);
  }

  forget(id: string): void {
    if (!this.ids.delete(id)) return;
    for (const [digest, seq] of this.byDigest) {
      const i = seq.entries.findIndex((e) => e.id === id);
      if (i < 0) continue;
      seq.entries.splice(i, 1);
      if (seq.entries.length === 0) this.byDigest.delete(digest);
      return;
    }
  }

  /**
   * The current session of every sequence whose client stream may begin with `received` (as far as
   * the kept prefix tells), earliest first, at most `max`. With nothing received yet: server-first
   * sessions only.
   */
  candidates(received: Buffer, max: number): TcpEntry[] {
    const out: TcpEntry[] = [];
    for (const seq of this.byDigest.values()) {
      const e = seq.entries[Math.min(seq.next, seq.entries.length - 1)]!;
      if (received.length === 0 ? !e.serverFirst : !prefixAgrees(e.prefix, received)) continue;
      out.push(e);
    }
    return out.sort((a, b) => a.started - b.started).slice(0, max);
  }

  /**
   * The session whose kept client prefix shares the most leading bytes with `received` (earliest
   * first on a tie), and how many; null when nothing is indexed. Misses only: a scan of every sequence.
   */
  closest(received: Buffer): { entry: TcpEntry; common: number } | null {
    let best: { entry: TcpEntry; common: number } | null = null;
    for (const seq of this.byDigest.values()) {
      const entry = seq.entries[Math.min(seq.next, seq.entries.length - 1)]!;
      const common = commonPrefix(entry.prefix, received);
      if (best === null || common > best.common || (common === best.common && entry.started < best.entry.started)) best = { entry, common };
    }
    return best;
  }

  /** The conversation with this client stream was served: its sequence moves on. */
  served(digest: string): void {
    const seq = this.byDigest.get(digest);
    if (seq) seq.next++;
  }

  reset(): void {
    for (const seq of this.byDigest.values()) seq.next = 0;
  }
}

/** True when the kept prefix and the received bytes agree on their common length. */
function prefixAgrees(prefix: Buffer, received: Buffer): boolean {
  const n = Math.min(prefix.length, received.length);
  return prefix.subarray(0, n).equals(received.subarray(0, n)) && (received.length <= prefix.length || prefix.length === PREFIX_BYTES);
}

/** How many leading bytes `a` and `b` share. */
export function commonPrefix(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
