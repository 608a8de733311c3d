import type { Digest } from './redaction-digest.js';
import { redactAuthorityUserinfo, redactUrlQuery, redactUrlUserinfo, type ParamHit } from './urlencoded-redaction.js';

/**
 * The one place a request target — or any URL that may carry one — is redacted. A target reaches a
 * record in several shapes: the record's `url`, HTTP/2's `:path` and `:authority`, a `Host` with
 * userinfo, and URLs in `Referer`, `Location` and `Content-Location`. Each of them goes through the
 * rules below, so a secret that is hidden in one shape cannot survive in another.
 *
 * @module
 */

/** How a field's value holds (part of) a URL. */
export type UrlShape =
  /** A request target or URL reference: origin-form, absolute-form, or relative. */
  | 'target'
  /** `host[:port]`, possibly (invalidly) with `userinfo@` in front. */
  | 'authority';

/** Header fields whose values are URLs or authorities, lowercase, with their shape. */
export const URL_FIELDS: ReadonlyMap<string, UrlShape> = new Map<string, UrlShape>([
  [':path', 'target'],
  [':authority', 'authority'],
  ['host', 'authority'],
  ['referer', 'target'],
  ['location', 'target'],
  ['content-location', 'target'],
]);

/** What a URL is redacted with; compiled once by the Redactor. */
export interface TargetRules {
  /** Query parameter names, lowercase. */
  queryNames: ReadonlySet<string>;
  /** Redact credentials in userinfo (part of the default rules). */
  userinfo: boolean;
  digest: Digest;
}

/** Told what was redacted: a query parameter (its lowercase name) or the userinfo. */
export interface TargetHits {
  query: ParamHit;
  userinfo(): void;
}

/**
 * Redacts the userinfo and the secret query values of a URL of the given shape; every other byte
 * stays as it was.
 *
 * @returns the redacted value, or the input itself when nothing was redacted.
 */
export function redactUrl(value: string, shape: UrlShape, rules: TargetRules, hits: TargetHits): string {
  if (shape === 'authority') {
    if (!rules.userinfo) return value;
    const out = redactAuthorityUserinfo(value, rules.digest);
    if (out === null) return value;
    hits.userinfo();
    return out;
  }
  let out = value;
  if (rules.userinfo) {
    const u = redactUrlUserinfo(out, rules.digest);
    if (u !== null) {
      out = u;
      hits.userinfo();
    }
  }
  return redactUrlQuery(out, rules.queryNames, rules.digest, hits.query) ?? out;
}
