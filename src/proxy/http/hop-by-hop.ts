/**
 * Hop-by-hop header removal (RFC 9110 §7.6.1), shared by requests and responses.
 *
 * @module
 */

/** Always connection-specific, whether or not `Connection` names them (RFC 9110 §7.6.1). */
const FIXED_HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Fields a client may not make disappear by naming them in `Connection` (the "hop-by-hop abuse"
 * trick): framing, routing, credentials and the forwarding chain. Their nomination is ignored.
 */
const PROTECTED: ReadonlySet<string> = new Set([
  'host',
  'content-length',
  'content-type',
  'authorization',
  'cookie',
  'set-cookie',
  'forwarded',
  'via',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
]);

/**
 * Receives every end-to-end field that survives sanitising, with its lower-cased name, and
 * returns true when it took the field over (then it is not copied to the output).
 */
export interface HeaderTap {
  take(lower: string, name: string, value: string): boolean;
}

/**
 * Copies a flat raw header list (`[name, value, name, value, …]`, as `rawHeaders`) without its
 * hop-by-hop fields: the fixed list, and every field nominated in `Connection` (protected names
 * excepted). Name case and order are kept.
 *
 * @param keepUpgrade keep `Upgrade` — only for a handshake being tunnelled; the caller then adds its
 *   own `Connection: Upgrade`.
 * @param tap optional per-direction hook that may consume fields (forwarding headers, Host, …).
 *   It only sees fields that are not fixed hop-by-hop; what it takes must be protected or dropped
 *   anyway, because nominations are applied after it ran.
 */
export function sanitizeHopByHop(raw: readonly string[], keepUpgrade = false, tap?: HeaderTap): string[] {
  const out: string[] = [];
  let nominated: Set<string> | null = null;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
    if (FIXED_HOP_BY_HOP.has(lower)) {
      if (lower === 'connection') nominated = addNominations(nominated, value);
      if (!(keepUpgrade && lower === 'upgrade')) continue;
    } else if (tap !== undefined && tap.take(lower, name, value)) {
      continue;
    }
    out.push(name, value);
  }
  // Nominations may follow the fields they name, so they are applied once the list is known.
  // Usually there are none ("Connection: keep-alive" names only fixed fields).
  return nominated === null ? out : withoutNominated(out, nominated);
}

function addNominations(nominated: Set<string> | null, value: string): Set<string> | null {
  for (const token of value.split(',')) {
    const t = token.trim().toLowerCase();
    if (t === '' || PROTECTED.has(t) || FIXED_HOP_BY_HOP.has(t)) continue;
    (nominated ??= new Set()).add(t);
  }
  return nominated;
}

function withoutNominated(flat: string[], nominated: Set<string>): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    if (!nominated.has(flat[i]!.toLowerCase())) out.push(flat[i]!, flat[i + 1]!);
  }
  return out;
}
