/**
 * Logging a browser in and out, and telling the page who it is:
 *
 *   GET    /api/session                    → 200 {authenticated, login_required, csrf_token, expires_at}
 *   POST   /api/session  {"token": "…"}    → 201 the same + Set-Cookie; 401 wrong token; 429 too many tries
 *   DELETE /api/session                    → 204 + a cookie that expires now
 *
 * The routes are anonymous (the login form has no session yet) and stay behind the Host guard.
 * With no `api.token` configured there is nothing to log in to: every page is open, as the API is.
 */
import type { IncomingMessage } from 'node:http';
import type { Logger } from '../core/log.js';
import { ApiError, type BearerAuth, type CookieSessions, type Reply, type RequestContext, type Route } from '../api/api-server.js';
import { clearedCookie, cookieName, readCookie, sessionCookie } from './cookies.js';
import type { LoginLimiter } from './login-limiter.js';
import { csrfMatches, type Session, type SessionStore } from './sessions.js';

/** The header the UI sends its CSRF token in on state-changing calls. */
export const CSRF_HEADER = 'x-qproxy-csrf';

const SAFE_METHODS = new Set(['GET', 'HEAD']);

/** The session document both GET and POST answer with. */
export interface SessionDoc {
  authenticated: boolean;
  /** False when the API has no token: the UI then shows every page without a login. */
  login_required: boolean;
  /** Send it back as X-QProxy-CSRF on POST and DELETE calls; null without a session. */
  csrf_token: string | null;
  /** ISO 8601; when the session ends at the latest (it also ends after 30 minutes unused). */
  expires_at: string | null;
}

/** The API's cookie authentication, backed by the session store. */
export class WebSessions implements CookieSessions {
  constructor(private readonly store: SessionStore) {}

  authenticate(req: IncomingMessage): boolean {
    const session = this.of(req);
    if (session === null) return false;
    if (!SAFE_METHODS.has(req.method ?? '')) checkCsrf(req, session);
    return true;
  }

  /** The live session the request's cookie names, or null. */
  of(req: IncomingMessage): Session | null {
    const id = readCookie(req, cookieName(req));
    return id === undefined ? null : this.store.find(id);
  }
}

function checkCsrf(req: IncomingMessage, session: Session): void {
  const presented = req.headers[CSRF_HEADER];
  if (!csrfMatches(session, typeof presented === 'string' ? presented : undefined)) {
    throw new ApiError(
      403,
      'QP_ERR_API_CSRF',
      'a state-changing call with a session cookie must carry the session\'s CSRF token in X-QProxy-CSRF (from GET /api/session); reload the page',
    );
  }
}

/**
 * A page of another origin (even on the same host) must not log a browser in: when the browser
 * says where the call comes from, it must be this API's own origin.
 */
function checkOrigin(req: IncomingMessage): void {
  const origin = req.headers.origin;
  if (origin === undefined) return;
  let host: string | null = null;
  try {
    host = new URL(origin).host;
  } catch {
    host = null;
  }
  if (host === null || host.toLowerCase() !== (req.headers.host ?? '').toLowerCase()) {
    throw new ApiError(403, 'QP_ERR_API_CSRF', `a login from ${JSON.stringify(origin.slice(0, 100))} is refused: log in from this API's own /ui/ page`);
  }
}

function loginToken(body: Buffer | null): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body?.toString('utf8') ?? '');
  } catch {
    parsed = null;
  }
  const token = (parsed as { token?: unknown } | null)?.token;
  if (typeof token !== 'string' || token === '') {
    throw new ApiError(400, 'QP_ERR_API_BAD_PARAM', 'send the API token as JSON: {"token": "…"}');
  }
  return token;
}

export interface SessionRouteDeps {
  auth: BearerAuth;
  store: SessionStore;
  sessions: WebSessions;
  limiter: LoginLimiter;
  audit: Logger;
}

export function sessionRoutes(d: SessionRouteDeps): Route[] {
  const doc = (s: Session | null): SessionDoc => ({
    authenticated: !d.auth.enabled || s !== null,
    login_required: d.auth.enabled,
    csrf_token: s?.csrf ?? null,
    expires_at: s === null ? null : new Date(d.store.expiresAt(s)).toISOString(),
  });
  const login = (ctx: RequestContext): Reply => {
    checkOrigin(ctx.req);
    const token = loginToken(ctx.body);
    if (!d.auth.enabled) return { status: 200, json: doc(null) };
    const client = ctx.req.socket.remoteAddress ?? 'unknown';
    const wait = d.limiter.waitSeconds(client);
    if (wait > 0) {
      throw new ApiError(429, 'QP_ERR_API_LOGIN_LIMIT', `too many wrong tokens from ${client}; try again in ${wait} s`, { 'Retry-After': String(wait) });
    }
    if (!d.auth.matches(token)) {
      d.limiter.failed(client);
      d.audit.warn({ action: 'ui.login', ok: false, client }, 'UI login refused');
      throw new ApiError(401, 'QP_ERR_API_UNAUTHORIZED', 'that is not the API token (api.token or QPROXY_API_TOKEN of this node)');
    }
    d.limiter.succeeded(client);
    const created = d.store.create();
    d.audit.info({ action: 'ui.login', ok: true, client }, 'UI login');
    const name = cookieName(ctx.req);
    return {
      status: 201,
      json: {
        authenticated: true,
        login_required: true,
        csrf_token: created.csrf,
        expires_at: new Date(created.expiresAt).toISOString(),
      } satisfies SessionDoc,
      headers: { 'Set-Cookie': sessionCookie(name, created.id, d.store.maxAgeMs / 1000) },
    };
  };
  return [
    {
      path: '/api/session',
      anonymous: true,
      methods: {
        GET: (ctx) => ({ status: 200, json: doc(d.sessions.of(ctx.req)) }),
        POST: login,
        DELETE: (ctx) => {
          const name = cookieName(ctx.req);
          const id = readCookie(ctx.req, name);
          const session = d.sessions.of(ctx.req);
          if (session !== null && id !== undefined) {
            checkCsrf(ctx.req, session);
            d.store.end(id);
            d.audit.info({ action: 'ui.logout', client: ctx.req.socket.remoteAddress }, 'UI logout');
          }
          return { status: 204, headers: { 'Set-Cookie': clearedCookie(name) } };
        },
      },
    },
  ];
}
