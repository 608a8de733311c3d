import type { RecordSummary } from '../../recording/model.js';
import { compileGlob, pathOf, type PathGlob } from '../../core/path-glob.js';

/** Which records a replay takes. Every field is optional; absent = no restriction. */
export interface RecordFilter {
  protocol?: 'http' | 'tcp';
  /** Upper-case methods; a method filter leaves TCP sessions out. */
  methods?: readonly string[];
  /** Glob over the request path (query excluded); leaves TCP sessions out. */
  path?: string;
  node_id?: string;
}

/** A filter compiled once. */
export class CompiledFilter {
  private readonly methods: ReadonlySet<string> | null;
  private readonly path: PathGlob | null;

  constructor(private readonly f: RecordFilter) {
    this.methods = f.methods && f.methods.length > 0 ? new Set(f.methods.map((m) => m.toUpperCase())) : null;
    this.path = f.path !== undefined ? compileGlob(f.path) : null;
  }

  /** Works on list summaries and on whole records alike (both carry these fields). */
  accepts(r: Pick<RecordSummary, 'protocol' | 'node_id' | 'method' | 'url'>): boolean {
    if (this.f.protocol !== undefined && r.protocol !== this.f.protocol) return false;
    if (this.f.node_id !== undefined && r.node_id !== this.f.node_id) return false;
    if (this.methods === null && this.path === null) return true;
    if (r.protocol !== 'http' || r.method === undefined || r.url === undefined) return false;
    if (this.methods !== null && !this.methods.has(r.method.toUpperCase())) return false;
    return this.path === null || this.path.test(pathOf(r.url));
  }
}
