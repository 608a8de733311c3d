/**
 * The endpoint a result is counted under, so that mismatches rank per endpoint as in Diffy's view:
 * the method and the path without its query, with segments that look like ids folded
 * ("/users/42/orders/9f1c…" → "/users/{id}/orders/{id}"), or "tcp <downstream>" for TCP sessions.
 */
const ID_SEGMENT = [
  /^\d+$/, // 42
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, // UUID
  /^(?=.*\d)[0-9a-f]{12,}$/i, // hex digests and object ids
  /^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_-]{20,}$/, // long opaque tokens (ULIDs, base64url ids)
];

/** Longest path kept in a key; longer ones are cut (keys are labels, not URLs). */
const MAX_PATH = 200;

export function endpointKey(protocol: 'http' | 'tcp', method: string | null, target: string | null): string {
  if (protocol === 'tcp') return `tcp ${target ?? '?'}`;
  if (target === null) return '(record gone)';
  const raw = target;
  const q = raw.search(/[?#]/);
  const path = q < 0 ? raw : raw.slice(0, q);
  const folded = path
    .split('/')
    .map((seg) => (ID_SEGMENT.some((re) => re.test(seg)) ? '{id}' : seg))
    .join('/');
  return `${method ?? '?'} ${folded.length > MAX_PATH ? `${folded.slice(0, MAX_PATH)}…` : folded || '/'}`;
}
