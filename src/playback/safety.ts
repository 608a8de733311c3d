import { compileGlob, type PathGlob } from '../core/path-glob.js';

/** What the safety policy decides for one request. */
export type SafetyAction = 'replay' | 'skip' | 'dry_run';

/** One rule as configured: methods (upper case, "*" = any), a path glob and the decision. */
export interface SafetyRule {
  method: readonly string[];
  path: string;
  action: SafetyAction;
}

/** The policy as configured (`playback.safety`, or a replay request's override). */
export interface SafetyOptions {
  rules: readonly SafetyRule[];
  /** GET, HEAD, OPTIONS, TRACE without a matching rule. */
  safe_methods: SafetyAction;
  /** Every other method without a matching rule. */
  unsafe_methods: SafetyAction;
}

/** RFC 9110 §9.2.1: methods whose semantics are read-only. */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

interface CompiledRule {
  anyMethod: boolean;
  methods: ReadonlySet<string>;
  path: PathGlob;
  action: SafetyAction;
}

/**
 * Decides per request whether a replay may send it (diffy's `allowHttpSideEffects`, but per route):
 * the first rule whose method and path match wins, otherwise the default for safe or unsafe
 * methods. Rules are compiled once per replay.
 */
export class SafetyPolicy {
  private readonly rules: CompiledRule[];

  constructor(private readonly opts: SafetyOptions) {
    this.rules = opts.rules.map((r) => ({
      anyMethod: r.method.includes('*'),
      methods: new Set(r.method.map((m) => m.toUpperCase())),
      path: compileGlob(r.path),
      action: r.action,
    }));
  }

  /** `path` without the query. */
  decide(method: string, path: string): SafetyAction {
    const m = method.toUpperCase();
    for (const rule of this.rules) {
      if ((rule.anyMethod || rule.methods.has(m)) && rule.path.test(path)) return rule.action;
    }
    return SAFE_METHODS.has(m) ? this.opts.safe_methods : this.opts.unsafe_methods;
  }
}
