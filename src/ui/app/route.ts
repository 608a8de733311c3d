/**
 * Routing by the URL's hash (#/records/ID …): the server serves one page at /ui/, links and the
 * back button work, and no path ever reaches the server with an id in it.
 */
import { useEffect, useState } from 'preact/hooks';

export type Route =
  | { page: 'records' }
  | { page: 'record'; id: string }
  | { page: 'replays' }
  | { page: 'replay'; id: string }
  | { page: 'result'; id: string; record: string }
  | { page: 'live' };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter((p) => p !== '').map(decodeURIComponent);
  const [a, b, c, d] = parts;
  if (a === 'records' && b !== undefined) return { page: 'record', id: b };
  if (a === 'replays' && b !== undefined && c === 'results' && d !== undefined) return { page: 'result', id: b, record: d };
  if (a === 'replays' && b !== undefined) return { page: 'replay', id: b };
  if (a === 'replays') return { page: 'replays' };
  if (a === 'live') return { page: 'live' };
  return { page: 'records' };
}

export function href(r: Route): string {
  const e = encodeURIComponent;
  switch (r.page) {
    case 'records':
      return '#/records';
    case 'record':
      return `#/records/${e(r.id)}`;
    case 'replays':
      return '#/replays';
    case 'replay':
      return `#/replays/${e(r.id)}`;
    case 'result':
      return `#/replays/${e(r.id)}/results/${e(r.record)}`;
    case 'live':
      return '#/live';
  }
}

export function go(r: Route): void {
  location.hash = href(r);
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(location.hash));
  useEffect(() => {
    const on = (): void => setRoute(parseRoute(location.hash));
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}
