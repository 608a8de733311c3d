/**
 * Glob patterns over paths (safety rules, replay filters, recording filters) and over other text
 * (host names, header values): in a path pattern `*` matches within one path segment and `**` any
 * number of characters across segments; in a text pattern `*` matches any characters. Every other
 * character stands for itself. Compiled once into an anchored regular expression.
 */

const SPECIAL = /[.+?^${}()|[\]\\]/g;

/** A compiled pattern. */
export interface PathGlob {
  readonly source: string;
  test(value: string): boolean;
}

/** How a pattern reads. */
export interface GlobOptions {
  /** "path" (default): `*` stops at "/". "text": `*` matches anything. */
  kind?: 'path' | 'text';
  /** Case-insensitive matching (host names). Default false. */
  ignoreCase?: boolean;
}

/** Compiles `/orders/*`, `/api/**`, `/v*\/items`, or with kind "text" `*.example.com`, into a matcher of whole values. */
export function compileGlob(source: string, opts: GlobOptions = {}): PathGlob {
  const one = opts.kind === 'text' ? '.*' : '[^/]*';
  let re = '^';
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '*') {
      if (source[i + 1] === '*') {
        re += '.*';
        i++;
      } else {
        re += one;
      }
    } else {
      re += c.replace(SPECIAL, '\\$&');
    }
  }
  const regex = new RegExp(`${re}$`, opts.ignoreCase === true ? 'i' : '');
  return { source, test: (value) => regex.test(value) };
}

/** The path of a request target: origin-form up to `?`, or the path of an absolute-form URL. */
export function pathOf(target: string): string {
  let path = target;
  if (!path.startsWith('/')) {
    const scheme = path.indexOf('://');
    if (scheme >= 0) {
      const slash = path.indexOf('/', scheme + 3);
      path = slash < 0 ? '/' : path.slice(slash);
    }
  }
  const cut = path.search(/[?#]/);
  return cut < 0 ? path : path.slice(0, cut);
}

/** The query of a request target without `?` (fragment dropped), or "" when there is none. */
export function queryOf(target: string): string {
  const q = target.indexOf('?');
  if (q < 0) return '';
  const hash = target.indexOf('#', q);
  return target.slice(q + 1, hash < 0 ? undefined : hash);
}

/**
 * `https://api.example.com/v1/items` for an absolute-form target (query and fragment dropped;
 * host lower-cased and the default port left out, as WHATWG URL serialises an origin), or null
 * for an origin-form one. Forward-proxy recordings are matched on this, so two hosts' `/health`
 * stay apart.
 */
export function originPathOf(target: string): string | null {
  if (target.startsWith('/')) return null;
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  return `${url.origin}${pathOf(target)}`;
}
