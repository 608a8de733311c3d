/**
 * @module The web UI's login sessions. A browser that presented the API token once gets a random
 * session id in an HttpOnly, SameSite=Strict cookie, so the token never sits in a URL, in the page
 * or in browser storage. Each session also has a CSRF token the page reads from `GET /api/session`
 * and sends back on every state-changing call: a page of another origin on the same site (another
 * port of localhost, say) gets the cookie sent along, but can read neither the token nor any answer.
 *
 * Sessions live in memory only: a restart logs everyone out, which is the safe direction.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export interface SessionOptions {
  /** A session unused this long ends. Default 30 minutes. */
  idleMs?: number;
  /** A session ends this long after login whatever its use. Default 12 hours. */
  maxAgeMs?: number;
  /** Live sessions at most; a login beyond ends the oldest. Default 256. */
  max?: number;
  /** Epoch milliseconds; tests pass their own clock. */
  now?: () => number;
}

export interface Session {
  readonly csrf: string;
  readonly createdAt: number;
  lastUsed: number;
}

/** What a login hands out: the cookie value (shown once, never stored) and the CSRF token. */
export interface NewSession {
  id: string;
  csrf: string;
  /** Epoch ms when the session ends at the latest. */
  expiresAt: number;
}

const DEFAULTS = { idleMs: 30 * 60_000, maxAgeMs: 12 * 3_600_000, max: 256 };

/** Session ids are only kept as digests: a heap dump does not hand out live sessions. */
function digest(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url');
}

export class SessionStore {
  private readonly idleMs: number;
  readonly maxAgeMs: number;
  private readonly max: number;
  private readonly now: () => number;
  /** Insertion order is login order: the first entry is the oldest session. */
  private readonly sessions = new Map<string, Session>();

  constructor(o: SessionOptions = {}) {
    this.idleMs = o.idleMs ?? DEFAULTS.idleMs;
    this.maxAgeMs = o.maxAgeMs ?? DEFAULTS.maxAgeMs;
    this.max = o.max ?? DEFAULTS.max;
    this.now = o.now ?? Date.now;
  }

  get size(): number {
    return this.sessions.size;
  }

  create(): NewSession {
    this.sweep();
    while (this.sessions.size >= this.max) this.sessions.delete(this.sessions.keys().next().value!);
    const id = randomBytes(32).toString('base64url');
    const csrf = randomBytes(32).toString('base64url');
    const at = this.now();
    this.sessions.set(digest(id), { csrf, createdAt: at, lastUsed: at });
    return { id, csrf, expiresAt: at + this.maxAgeMs };
  }

  /** The live session this cookie value names (and marks it used), or null. */
  find(id: string): Session | null {
    const key = digest(id);
    const s = this.sessions.get(key);
    if (s === undefined) return null;
    const at = this.now();
    if (this.expired(s, at)) {
      this.sessions.delete(key);
      return null;
    }
    s.lastUsed = at;
    return s;
  }

  /** When a session ends at the latest (epoch ms). */
  expiresAt(s: Session): number {
    return s.createdAt + this.maxAgeMs;
  }

  /** Ends a session; false when there was none. */
  end(id: string): boolean {
    return this.sessions.delete(digest(id));
  }

  private expired(s: Session, at: number): boolean {
    return at - s.lastUsed >= this.idleMs || at - s.createdAt >= this.maxAgeMs;
  }

  private sweep(): void {
    const at = this.now();
    for (const [key, s] of this.sessions) if (this.expired(s, at)) this.sessions.delete(key);
  }
}

/** Compares a presented CSRF token with the session's in constant time. */
export function csrfMatches(session: Session, presented: string | undefined): boolean {
  if (presented === undefined || presented === '') return false;
  return timingSafeEqual(Buffer.from(digest(presented)), Buffer.from(digest(session.csrf)));
}
