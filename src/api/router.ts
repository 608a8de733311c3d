import type { IncomingMessage } from 'node:http';

/** What a handler answers; the server turns it into bytes. */
export type Reply =
  | { status: number; json: unknown; headers?: Record<string, string> }
  | { status: number; text: string; contentType: string; headers?: Record<string, string> }
  | { status: number; bytes: Buffer; contentType: string; headers?: Record<string, string> }
  /**
   * A body written piece by piece as it is taken from `stream` (a large export), with backpressure
   * and no Content-Length. A piece that throws ends the response by breaking the connection: the
   * status already went out.
   */
  | { status: number; stream: Iterable<string | Buffer>; contentType: string; headers?: Record<string, string> }
  | { status: number; headers: Record<string, string> }
  | { status: 204 };

export interface RequestContext {
  req: IncomingMessage;
  /** Path parameters, percent-decoded (`:id` in "/api/records/:id"). */
  params: Readonly<Record<string, string>>;
  query: URLSearchParams;
  /** The request body (POST only, at most the API's body limit), or null. */
  body: Buffer | null;
}

export type Handler = (ctx: RequestContext) => Reply | Promise<Reply>;

export type Method = 'GET' | 'DELETE' | 'POST';

export interface Route {
  /** Segments starting with ":" match one non-empty segment, e.g. "/api/records/:id". */
  path: string;
  /** True for probes that answer without a token or Host check (they disclose nothing). */
  public?: boolean;
  /**
   * True for what a browser must reach before it has a session (the web UI's files, the login
   * call): no token asked, but still behind the Host guard.
   */
  anonymous?: boolean;
  /** Largest POST body this route takes; default the API's small limit for JSON requests. */
  maxBodyBytes?: number;
  methods: Partial<Record<Method, Handler>>;
}

export interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

/**
 * The methods a route answers, as an Allow header lists them. HEAD comes with GET (RFC 9110
 * §9.3.2); Node leaves the body out of HEAD responses by itself.
 */
export function allowedMethods(route: Route): string[] {
  const methods: string[] = Object.keys(route.methods);
  return route.methods.GET ? ['GET', 'HEAD', ...methods.filter((m) => m !== 'GET')] : methods;
}

/** The handler for `method`, or undefined when the route does not answer it. */
export function handlerFor(route: Route, method: string | undefined): Handler | undefined {
  if (method === 'GET' || method === 'HEAD') return route.methods.GET;
  if (method === 'DELETE') return route.methods.DELETE;
  if (method === 'POST') return route.methods.POST;
  return undefined;
}

/** A path router over a handful of routes: split once, compare segments. */
export class Router {
  private readonly compiled: { route: Route; segments: string[] }[];

  constructor(routes: readonly Route[]) {
    this.compiled = routes.map((route) => ({ route, segments: route.path.split('/').slice(1) }));
  }

  /** Matches a raw (still percent-encoded) path; undefined when no route fits. */
  match(path: string): RouteMatch | undefined {
    const parts = path.split('/').slice(1);
    for (const { route, segments } of this.compiled) {
      const params = matchSegments(segments, parts);
      if (params) return { route, params };
    }
    return undefined;
  }
}

function matchSegments(segments: readonly string[], parts: readonly string[]): Record<string, string> | null {
  if (segments.length !== parts.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const part = parts[i]!;
    if (seg.startsWith(':')) {
      const value = decodeSegment(part);
      if (value === null || value === '') return null;
      params[seg.slice(1)] = value;
    } else if (seg !== part) {
      return null;
    }
  }
  return params;
}

function decodeSegment(part: string): string | null {
  try {
    return decodeURIComponent(part);
  } catch {
    return null; // malformed percent-encoding: no route matches it
  }
}
