/**
 * Path patterns for safety rules and replay filters: `*` matches within one path segment, `**`
 * matches any number of characters across segments, every other character stands for itself.
 * Compiled once into an anchored regular expression.
 */

const SPECIAL = /[.+?^${}()|[\]\\]/g;

/** A compiled path pattern. */
export interface PathGlob {
  readonly source: string;
  test(path: string): boolean;
}

/** Compiles `/orders/*`, `/api/**`, `/v*\/items` … into a matcher of whole paths (query excluded). */
export function compileGlob(source: string): PathGlob {
  let re = '^';
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '*') {
      if (source[i + 1] === '*') {
        re += '.*';
        i++;
      } else {
        re += '[^/]*';
      }
    } else {
      re += c.replace(SPECIAL, '\\$&');
    }
  }
  const regex = new RegExp(`${re}$`);
  return { source, test: (path) => regex.test(path) };
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
