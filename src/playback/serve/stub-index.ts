/**
 * @module The in-memory index serving answers from: recordings grouped by path, then by the digest
 * of the parts that must match. Each digest holds its recordings in recorded order and a position,
 * so repeated identical requests get the recorded answers in order and then the last one again.
 *
 *   path ─▶ PathGroup { wildcards learnt from redaction, sequences: key ─▶ [entries…], next }
 *
 * Only ids, digests and the request line are kept; answers are read from the store on a hit.
 */
import { compileJsonPath, type JsonPath } from '../../core/json-path.js';
import type { HttpRecord } from '../../recording/model.js';
import { hasMarker } from '../compare/redaction-marks.js';
import { pathOf, queryOf } from '../../core/path-glob.js';
import { joinKeys, partKeys, prefixKey, type MatchRules, type PartKeys, type RequestParts, type Wildcards } from './request-key.js';

export interface IndexedEntry {
  id: string;
  started: number;
  method: string;
  url: string;
  keys: PartKeys;
  /** The recorded request body was truncated here (matched by prefix), or null. */
  truncatedAt: number | null;
}

/** Why the closest recording did not match: the parts that differ. */
export interface Closest {
  entry: IndexedEntry;
  differs: Array<'path' | 'method' | 'query' | 'headers' | 'body'>;
}

export type Lookup = { hit: IndexedEntry } | { miss: Closest | null };

interface Sequence {
  entries: IndexedEntry[];
  next: number;
}

class PathGroup {
  readonly query = new Set<string>();
  readonly jsonSources = new Set<string>();
  json: JsonPath[] = [];
  readonly prefixes = new Set<number>();
  entries: IndexedEntry[] = [];
  sequences = new Map<string, Sequence>();

  get wildcards(): Wildcards {
    return { query: this.query, json: this.json, prefixes: this.prefixes };
  }
}

/** Groups scanned for the closest path on a miss. */
const MAX_PATH_SCAN = 20_000;

const PARTS = ['method', 'query', 'headers', 'body'] as const;

function byTime(a: IndexedEntry, b: IndexedEntry): number {
  return a.started - b.started || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function insertSorted(list: IndexedEntry[], e: IndexedEntry): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (byTime(list[mid]!, e) <= 0) lo = mid + 1;
    else hi = mid;
  }
  list.splice(lo, 0, e);
}

function partsOf(r: HttpRecord): RequestParts {
  return { method: r.request.method, url: r.request.url, headers: r.request.headers, body: r.request.body.data };
}

export class StubIndex {
  private readonly groups = new Map<string, PathGroup>();
  private readonly ids = new Set<string>();

  /**
   * `reread` gives a record back by id, to re-key a path's recordings when its wildcards grow.
   * `groupOf` names the group a request target belongs to: its path (the default), or origin and
   * path for a forward proxy; a target it maps to null is not served (not indexed, never a hit).
   */
  constructor(
    private readonly rules: MatchRules,
    private readonly reread: (id: string) => HttpRecord | null,
    private readonly groupOf: (target: string) => string | null = pathOf,
  ) {}

  /** Recordings indexed. */
  get size(): number {
    return this.ids.size;
  }

  add(r: HttpRecord): void {
    if (this.ids.has(r.id)) return;
    const path = this.groupOf(r.request.url);
    if (path === null) return;
    let group = this.groups.get(path);
    if (group === undefined) {
      group = new PathGroup();
      this.groups.set(path, group);
    }
    const truncatedAt = r.request.body.truncated ? r.request.body.data.length : null;
    if (truncatedAt !== null) group.prefixes.add(truncatedAt);
    if (this.learn(group, r)) this.rekey(group);
    const entry: IndexedEntry = {
      id: r.id,
      started: r.started_at,
      method: r.request.method.toUpperCase(),
      url: r.request.url,
      keys: partKeys(partsOf(r), this.rules, group.wildcards, truncatedAt),
      truncatedAt,
    };
    this.ids.add(r.id);
    group.entries.push(entry);
    this.place(group, entry);
  }

  /** Finds the recording to answer with and moves its sequence on. */
  lookup(req: RequestParts): Lookup {
    const key = this.groupOf(req.url);
    if (key === null) return { miss: null };
    const group = this.groups.get(key);
    if (group === undefined) return { miss: this.closestPath(req) };
    const keys = partKeys(req, this.rules, group.wildcards, null);
    let seq = group.sequences.get(joinKeys(keys));
    for (const n of group.prefixes) {
      if (seq !== undefined) break;
      if (req.body.length > n) seq = group.sequences.get(joinKeys({ ...keys, body: prefixKey(req.body, n) }));
    }
    if (seq === undefined || seq.entries.length === 0) return { miss: this.closestIn(group, keys) };
    const entry = seq.entries[Math.min(seq.next, seq.entries.length - 1)]!;
    seq.next++;
    return { hit: entry };
  }

  /** Drops a recording (it is gone from the store). */
  forget(id: string): void {
    if (!this.ids.delete(id)) return;
    for (const group of this.groups.values()) {
      const i = group.entries.findIndex((e) => e.id === id);
      if (i < 0) continue;
      group.entries.splice(i, 1);
      for (const seq of group.sequences.values()) {
        const j = seq.entries.findIndex((e) => e.id === id);
        if (j >= 0) seq.entries.splice(j, 1);
      }
      return;
    }
  }

  /** Every sequence starts over from its first recording. */
  reset(): void {
    for (const group of this.groups.values()) for (const seq of group.sequences.values()) seq.next = 0;
  }

  private place(group: PathGroup, entry: IndexedEntry): void {
    const key = joinKeys(entry.keys);
    let seq = group.sequences.get(key);
    if (seq === undefined) {
      seq = { entries: [], next: 0 };
      group.sequences.set(key, seq);
    }
    insertSorted(seq.entries, entry);
  }

  /** Adds what this record says was redacted to the group's wildcards; true when they grew. */
  private learn(group: PathGroup, r: HttpRecord): boolean {
    let grew = false;
    for (const path of r.redacted) {
      if (path.startsWith('request.query.')) {
        const name = path.slice('request.query.'.length).toLowerCase();
        if (!group.query.has(name)) {
          group.query.add(name);
          grew = true;
        }
      } else if (path.startsWith('request.body$') && !group.jsonSources.has(path)) {
        group.jsonSources.add(path);
        group.json = [...group.json, compileJsonPath(path.slice('request.body'.length))];
        grew = true;
      }
    }
    // Marker values without a `redacted` entry (older records): the parameter name is enough.
    for (const pair of queryOf(r.request.url).split('&')) {
      const eq = pair.indexOf('=');
      if (eq < 0 || !hasMarker(pair.slice(eq + 1))) continue;
      const name = pair.slice(0, eq).toLowerCase();
      if (!group.query.has(name)) {
        group.query.add(name);
        grew = true;
      }
    }
    return grew;
  }

  /** Recomputes the digests of a group after its wildcards changed (rare: a new redacted name). */
  private rekey(group: PathGroup): void {
    const old = group.entries;
    group.entries = [];
    group.sequences = new Map();
    for (const e of old) {
      const r = this.reread(e.id);
      if (r === null) {
        this.ids.delete(e.id);
        continue;
      }
      const entry = { ...e, keys: partKeys(partsOf(r), this.rules, group.wildcards, e.truncatedAt) };
      group.entries.push(entry);
      this.place(group, entry);
    }
  }

  private closestIn(group: PathGroup, keys: PartKeys): Closest | null {
    let best: Closest | null = null;
    for (const e of group.entries) {
      const differs = PARTS.filter((p) => e.keys[p] !== keys[p] && !(p === 'body' && e.truncatedAt !== null));
      if (best === null || differs.length < best.differs.length) best = { entry: e, differs };
    }
    return best;
  }

  private closestPath(req: RequestParts): Closest | null {
    const path = this.groupOf(req.url) ?? '';
    const method = req.method.toUpperCase();
    let best: { group: PathGroup; score: number; spread: number } | null = null;
    let scanned = 0;
    for (const [p, group] of this.groups) {
      if (++scanned > MAX_PATH_SCAN || group.entries.length === 0) continue;
      let score = 0;
      while (score < p.length && score < path.length && p[score] === path[score]) score++;
      const spread = Math.abs(p.length - path.length);
      if (best === null || score > best.score || (score === best.score && spread < best.spread)) best = { group, score, spread };
    }
    if (best === null) return null;
    const entry = best.group.entries.find((e) => e.method === method) ?? best.group.entries[0]!;
    return { entry, differs: entry.method === method || !this.rules.method ? ['path'] : ['path', 'method'] };
  }
}
