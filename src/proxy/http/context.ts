import type { BlockList } from 'node:net';
import type { Logger } from 'pino';
import type { HttpExchangeRecorder } from '../../recording/sink.js';
import type { HttpProxyObserver } from '../observer.js';
import type { DownstreamPools } from './downstream.js';
import type { DownstreamTlsOptions, HttpDownstreams, HttpLimits, HttpTimeouts } from './options.js';

/**
 * What every exchange of one proxy server shares: the parts of the options it needs, the pools,
 * and the server's drain state. The server owns it and passes it in.
 */
export interface ProxyContext {
  readonly limits: HttpLimits;
  readonly timeouts: HttpTimeouts;
  readonly downstreamTls: DownstreamTlsOptions;
  readonly downstreams: HttpDownstreams;
  readonly pools: DownstreamPools;
  readonly trust: BlockList | null;
  readonly recorder: HttpExchangeRecorder;
  readonly observer: HttpProxyObserver;
  readonly logger: Logger;
  /** True once the server started draining: responses carry `Connection: close`. */
  readonly draining: boolean;
  exchangeStarted(): void;
  exchangeEnded(): void;
}
