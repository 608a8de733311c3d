/**
 * Turns zod issues into lines an operator can act on, one per problem:
 *
 *   config.json: http.port: got "80a" — expected an integer port 1-65535
 *   config.json: http.dowstream: unknown key — did you mean "downstream"?
 *
 * The offending value is looked up in the raw input (so it is shown as written, not as parsed), and
 * unknown keys are matched against the keys the schema allows at that place.
 */
import { z } from 'zod';
import { configSchema } from './schema.js';

type Issue = z.core.$ZodIssue;
type PathKey = PropertyKey;

/** Paths whose values are secrets: errors describe them without echoing them. */
const SECRET_PATHS = new Set(['api.token', 'peer.token', 'sync.token', 'recording.redaction.key', 'forward.auth.password']);

const TYPE_EXPECTATIONS: Readonly<Record<string, string>> = {
  object: 'expected an object { … }',
  array: 'expected a list [ … ]',
  string: 'expected a string',
  number: 'expected a number',
  boolean: 'expected true or false',
};

/** What {@link formatIssues} needs besides the issues. */
export interface FormatIssuesOptions {
  /** The raw input that was validated; offending values are read from it. */
  input: unknown;
  /** Prefix for every line, usually the config file's name. */
  file?: string;
  /** Paths (as printed, e.g. "api.token") whose value came from an environment variable, and its name. */
  sources?: ReadonlyMap<string, string>;
  /** The schema that produced the issues, for key suggestions; default the config schema. */
  schema?: z.ZodType;
}

/**
 * Formats every issue as one line (unknown keys: one line per key). A field gets one line only: the
 * first issue at a path wins, so a cross-field rule does not repeat a field's own error.
 */
export function formatIssues(issues: readonly Issue[], opts: FormatIssuesOptions): string[] {
  const seen = new Set<string>();
  const firstPerPath = issues.filter((issue) => {
    if (issue.code === 'unrecognized_keys') return true;
    const key = JSON.stringify(issue.path.map(String));
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return [...new Set(firstPerPath.flatMap((issue) => issueLines(issue, opts)))];
}

function issueLines(issue: Issue, opts: FormatIssuesOptions): string[] {
  const at = (path: readonly PathKey[]): string => {
    const text = pathText(path);
    const source = opts.sources?.get(text);
    const label = source ? `${text} (from ${source})` : text;
    return [opts.file, label].filter((s) => s !== undefined && s !== '').join(': ');
  };
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeysAt(opts.schema ?? configSchema, issue.path);
    return issue.keys.map((key) => `${at([...issue.path, key])}: unknown key — ${unknownKeyHint(key, known)}`);
  }
  if (issue.code === 'custom' && issue.params?.plain === true) return [`${at(issue.path)}: ${issue.message}`];
  const value = valueAt(opts.input, issue.path);
  const got = describeValue(value, SECRET_PATHS.has(pathText(issue.path)));
  return [`${at(issue.path)}: ${got} — ${expectation(issue, value)}`];
}

/** `["http", "downstream", 1]` → `http.downstream[1]`. */
export function pathText(path: readonly PathKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$-]*$/.test(key)) out += out === '' ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}

function valueAt(input: unknown, path: readonly PathKey[]): unknown {
  let node = input;
  for (const key of path) {
    if (typeof node !== 'object' || node === null || typeof key === 'symbol') return undefined;
    if (!Object.hasOwn(node, key)) return undefined;
    node = (node as Record<string | number, unknown>)[key];
  }
  return node;
}

function describeValue(value: unknown, secret: boolean): string {
  if (value === undefined) return 'missing';
  if (secret && typeof value === 'string') return `got a value of ${value.length} characters (not shown)`;
  if (Array.isArray(value)) return 'got a list';
  if (typeof value === 'object' && value !== null) return 'got an object';
  if (typeof value === 'string' && value.length > 80) return `got ${JSON.stringify(`${value.slice(0, 77)}...`)}`;
  return `got ${JSON.stringify(value)}`;
}

function expectation(issue: Issue, value: unknown): string {
  let text = issue.message;
  if (!text.startsWith('expected')) {
    text = issue.code === 'invalid_type' ? (TYPE_EXPECTATIONS[issue.expected] ?? `expected ${issue.expected}`) : text;
  }
  if (issue.code === 'invalid_value' && typeof value === 'string') {
    const choices = issue.values.filter((v): v is string => typeof v === 'string');
    const guess = closest(value, choices);
    if (guess !== undefined) text += ` (did you mean "${guess}"?)`;
  }
  return text;
}

function unknownKeyHint(key: string, known: readonly string[]): string {
  const guess = closest(key, known);
  if (guess !== undefined) return `did you mean "${guess}"?`;
  return known.length > 0 ? `expected one of: ${known.join(', ')}` : 'remove it';
}

/** The closest candidate by edit distance (case-insensitive), when it is close enough to be a typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const w = word.toLowerCase();
  const limit = w.length <= 4 ? 1 : 2;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return bestDistance <= limit && bestDistance < w.length ? best : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent swaps. */
export function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => rows[i]![j]!;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, at(i - 2, j - 2) + 1);
      rows[i]![j] = d;
    }
  }
  return at(a.length, b.length);
}

/** The keys the schema allows for the object at `path` (wrappers, unions and lists are looked through). */
function knownKeysAt(schema: z.ZodType, path: readonly PathKey[]): string[] {
  let nodes = unwrap(schema);
  for (const key of path) {
    nodes = nodes.flatMap((node) => {
      if (node instanceof z.ZodObject && typeof key === 'string') {
        const child = (node.shape as Record<string, z.ZodType>)[key];
        return child ? unwrap(child) : [];
      }
      if (node instanceof z.ZodArray && typeof key === 'number') return unwrap(node.element as z.ZodType);
      return [];
    });
  }
  const keys = nodes.flatMap((node) => (node instanceof z.ZodObject ? Object.keys(node.shape) : []));
  return [...new Set(keys)];
}

function unwrap(schema: z.ZodType): z.ZodType[] {
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable || schema instanceof z.ZodDefault || schema instanceof z.ZodPrefault) {
    return unwrap(schema.unwrap() as z.ZodType);
  }
  if (schema instanceof z.ZodPipe) return unwrap(schema.in as z.ZodType);
  if (schema instanceof z.ZodUnion) return (schema.options as z.ZodType[]).flatMap(unwrap);
  return [schema];
}
