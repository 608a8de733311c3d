import type { Registry } from 'prom-client';
import { ScrapedCounter } from './scraped-counter.js';

/**
 * Slots of `qproxy_proxy_bytes_total`: one counter shared by every proxy listener, so that
 * `sum by (direction)` covers all protocols. rx = received from clients, tx = sent to clients.
 */
export const BYTES_SLOT = { httpRx: 0, httpTx: 1, tcpRx: 2, tcpTx: 3 } as const;

/** Creates the shared `qproxy_proxy_bytes_total` counter, every protocol/direction at 0. */
export function createProxyBytes(registry: Registry): ScrapedCounter<'protocol' | 'direction'> {
  return new ScrapedCounter(
    {
      name: 'qproxy_proxy_bytes_total',
      help: 'Bytes relayed by the proxy listeners: rx received from clients, tx sent to clients.',
      labelNames: ['protocol', 'direction'],
      registers: [registry],
    },
    [
      { protocol: 'http', direction: 'rx' },
      { protocol: 'http', direction: 'tx' },
      { protocol: 'tcp', direction: 'rx' },
      { protocol: 'tcp', direction: 'tx' },
    ],
  );
}
