/**
 * The small JSONPath subset that redaction, comparison and the serving keys need (RFC 9535 semantics for these forms): `$`, `.name`,
 * `.*`, `..name` / `..*` (descendants), `[n]`, `[*]`, `['name']` / `["name"]`. Paths are compiled
 * once at startup; applying one walks only the branches it can match (or, with `..`, the whole tree).
 */
import { ConfigError } from './errors.js';

type Selector = { kind: 'name'; name: string } | { kind: 'index'; index: number } | { kind: 'any' };

interface Step {
  /** True for `..`: the selector applies to the node and to every descendant. */
  descend: boolean;
  select: Selector;
}

/** A compiled path; `source` is the text it came from (used in the record's `redacted` list). */
export interface JsonPath {
  readonly source: string;
  readonly steps: readonly Step[];
}

type Container = Record<string, unknown> | unknown[];
type Key = string | number;

const ANY: Selector = { kind: 'any' };

/**
 * Compiles a path such as `$.user.ssn`, `$..token`, `$.items[*].card` or `$['x-key'][0]`.
 *
 * @throws ConfigError naming the path and what is wrong with it.
 */
export function compileJsonPath(source: string): JsonPath {
  const fail = (why: string): never => {
    throw new ConfigError(
      `redaction JSON path ${JSON.stringify(source)} is not supported: ${why}. ` +
        'Use forms like $.password, $.user.ssn, $..token, $.items[0], $.items[*].card',
    );
  };
  if (source[0] !== '$') fail('it must start with "$"');
  const steps: Step[] = [];
  let i = 1;
  while (i < source.length) {
    const c = source[i];
    if (c === '[') {
      const r = parseBracket(source, i, fail);
      steps.push({ descend: false, select: r.select });
      i = r.end;
    } else if (c === '.') {
      const descend = source[i + 1] === '.';
      i += descend ? 2 : 1;
      if (descend && source[i] === '[') {
        const r = parseBracket(source, i, fail);
        steps.push({ descend, select: r.select });
        i = r.end;
        continue;
      }
      const end = memberEnd(source, i);
      const name = source.slice(i, end);
      if (name.length === 0) fail(`a member name is missing at position ${i}`);
      steps.push({ descend, select: name === '*' ? ANY : { kind: 'name', name } });
      i = end;
    } else {
      fail(`unexpected ${JSON.stringify(c)} at position ${i}`);
    }
  }
  return { source, steps };
}

function memberEnd(source: string, from: number): number {
  let i = from;
  while (i < source.length && source[i] !== '.' && source[i] !== '[') i++;
  return i;
}

function parseBracket(source: string, open: number, fail: (why: string) => never): { select: Selector; end: number } {
  const quote = source[open + 1];
  if (quote === "'" || quote === '"') {
    const close = source.indexOf(quote, open + 2);
    if (close < 0 || source[close + 1] !== ']') fail(`unterminated quoted name at position ${open}`);
    return { select: { kind: 'name', name: source.slice(open + 2, close) }, end: close + 2 };
  }
  const close = source.indexOf(']', open);
  if (close < 0) fail(`"[" at position ${open} is not closed`);
  const inner = source.slice(open + 1, close);
  if (inner === '*') return { select: ANY, end: close + 1 };
  if (!/^\d+$/.test(inner)) fail(`"[${inner}]" must be an index, "*" or a quoted name`);
  return { select: { kind: 'index', index: Number(inner) }, end: close + 1 };
}

/**
 * Replaces every value `path` selects in `root` with what `replace` returns for it, in place.
 * A value that was replaced is not searched again by `..` (its contents are already handled).
 *
 * @returns the root, or the replacement of the root for the path `$`.
 */
export function replaceAtPath(root: unknown, path: JsonPath, replace: (value: unknown) => unknown): unknown {
  if (path.steps.length === 0) return replace(root);
  walk(root, path.steps, 0, replace);
  return root;
}

function walk(node: unknown, steps: readonly Step[], i: number, replace: (value: unknown) => unknown): void {
  if (typeof node !== 'object' || node === null) return;
  const container = node as Container;
  const step = steps[i]!;
  const last = i === steps.length - 1;
  for (const key of selectKeys(container, step.select)) {
    if (last) setChild(container, key, replace(getChild(container, key)));
    else walk(getChild(container, key), steps, i + 1, replace);
  }
  if (!step.descend) return;
  for (const key of allKeys(container)) {
    if (last && matches(step.select, key)) continue;
    walk(getChild(container, key), steps, i, replace);
  }
}

function selectKeys(node: Container, select: Selector): Key[] {
  switch (select.kind) {
    case 'any':
      return allKeys(node);
    case 'index':
      return Array.isArray(node) && select.index < node.length ? [select.index] : [];
    case 'name':
      return !Array.isArray(node) && Object.hasOwn(node, select.name) ? [select.name] : [];
  }
}

function matches(select: Selector, key: Key): boolean {
  if (select.kind === 'any') return true;
  return select.kind === 'index' ? key === select.index : key === select.name;
}

function allKeys(node: Container): Key[] {
  return Array.isArray(node) ? Array.from(node.keys()) : Object.keys(node);
}

function getChild(node: Container, key: Key): unknown {
  return Array.isArray(node) ? node[key as number] : node[key as string];
}

/** Sets an own property; "__proto__" (an ordinary own key after JSON.parse) must not hit the setter. */
export function setChild(node: Container, key: Key, value: unknown): void {
  if (Array.isArray(node)) node[key as number] = value;
  else if (key === '__proto__') Object.defineProperty(node, key, { value, writable: true, enumerable: true, configurable: true });
  else node[key as string] = value;
}
