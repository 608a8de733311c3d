import type { BlockList } from 'node:net';
import type { Logger } from '../../core/log.js';
import type { HttpExchangeRecorder } from '../../recording/sink.js';
import type { HttpProxyObserver } from './observer.js';
import type { HttpLimits, HttpTimeouts } from './options.js';
import type { HttpRouter } from './route.js';

/**
 * What every exchange of one proxy server shares: the parts of the options it needs, the router,
 * and the server's drain state. The server owns it and passes it in.
 */
export interface ProxyContext {
  readonly limits: HttpLimits;
  readonly timeouts: HttpTimeouts;
  /** Where each request goes. */
  readonly router: HttpRouter;
  readonly trust: BlockList | null;
  readonly recorder: HttpExchangeRecorder;
  readonly observer: HttpProxyObserver;
  readonly logger: Logger;
  /** True once the server started draining: responses carry `Connection: close`. */
  readonly draining: boolean;
  exchangeStarted(): void;
  exchangeEnded(): void;
}
