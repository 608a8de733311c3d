/**
 * @module The web UI, server side: the built page and its files at /ui/, and the login sessions
 * that let a browser call the API without the token in a URL. The page itself (src/ui/app) only
 * calls the documented API.
 */
import type { Logger } from '../core/log.js';
import { BearerAuth, type ApiUi } from '../api/api-server.js';
import { LoginLimiter } from './login-limiter.js';
import { sessionRoutes, WebSessions } from './session-routes.js';
import { SessionStore, type SessionOptions } from './sessions.js';
import { findStaticDir, loadStaticFiles, staticRoutes } from './static-files.js';

export { CSRF_HEADER, type SessionDoc } from './session-routes.js';
export { CONTENT_SECURITY_POLICY } from './static-files.js';

export interface WebUiOptions {
  /** The API token (`api.token`); unset = no login. */
  token?: string;
  logger: Logger;
  /** Where the built files are; default: found next to this module (see findStaticDir). */
  staticDir?: string | null;
  sessions?: SessionOptions;
}

/** The UI's routes and sessions, ready to mount on the API (ApiOptions.ui). */
export function createWebUi(o: WebUiOptions): ApiUi {
  const log = o.logger.child({ component: 'ui' });
  const dir = o.staticDir === undefined ? findStaticDir() : o.staticDir;
  if (dir === null) log.warn({}, 'the web UI files are missing (dist/ui/static): /ui/ answers 503; run "npm run build" or set api.ui to false');
  const store = new SessionStore(o.sessions);
  const sessions = new WebSessions(store);
  const routes = [
    ...staticRoutes(dir === null ? null : loadStaticFiles(dir)),
    ...sessionRoutes({ auth: new BearerAuth(o.token), store, sessions, limiter: new LoginLimiter(), audit: log }),
  ];
  return { routes, sessions };
}
