/**
 * @module The web UI's files: built by `npm run build` (esbuild bundles src/ui/app into
 * dist/ui/static) and shipped in the npm package, read once when the node starts and served from
 * memory. Nothing is fetched from anywhere else: the Content-Security-Policy allows this origin only,
 * and no inline script at all.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiError, type Reply, type RequestContext, type Route } from '../api/api-server.js';

/**
 * Images shown inline (recorded bodies) come as data: or blob: URLs; connections go to this API
 * only; no plugin, frame, form target or base URL elsewhere.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  // The files change only with a new build: revalidate each time, cheaply, with the ETag.
  'Cache-Control': 'no-cache',
};

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.txt': 'text/plain; charset=utf-8',
};

interface StaticFile {
  bytes: Buffer;
  type: string;
  etag: string;
}

/**
 * The built files: next to this module once compiled (dist/ui/static), or in dist/ when this
 * module runs from source (tsx in tests). Null when the UI was not built.
 */
export function findStaticDir(): string | null {
  for (const rel of ['./static/', '../../dist/ui/static/']) {
    const dir = fileURLToPath(new URL(rel, import.meta.url));
    if (existsSync(`${dir}index.html`)) return dir;
  }
  return null;
}

/** Reads every servable file of `dir` into memory. */
export function loadStaticFiles(dir: string): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const type = TYPES[extname(entry.name)];
    if (!entry.isFile() || type === undefined) continue;
    const bytes = readFileSync(`${dir}${entry.name}`);
    files.set(entry.name, { bytes, type, etag: `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 22)}"` });
  }
  return files;
}

function serve(file: StaticFile | undefined, ctx: RequestContext, name: string): Reply {
  if (file === undefined) throw new ApiError(404, 'QP_ERR_API_NOT_FOUND', `the web UI has no file ${JSON.stringify(name.slice(0, 100))}`);
  const headers = { ...SECURITY_HEADERS, ETag: file.etag };
  if (ctx.req.headers['if-none-match'] === file.etag) return { status: 304, headers };
  return { status: 200, bytes: file.bytes, contentType: file.type, headers };
}

function notBuilt(): never {
  throw new ApiError(
    503,
    'QP_ERR_API_UI_NOT_BUILT',
    'the web UI files are missing from this installation (dist/ui/static); run "npm run build", or set api.ui to false',
  );
}

/** GET /ui → /ui/, /ui/ (the page), /ui/{file} (its script, styles, icon). */
export function staticRoutes(files: Map<string, StaticFile> | null): Route[] {
  return [
    { path: '/ui', anonymous: true, methods: { GET: () => ({ status: 308, headers: { Location: '/ui/' } }) } },
    {
      path: '/ui/',
      anonymous: true,
      methods: { GET: (ctx) => (files === null ? notBuilt() : serve(files.get('index.html'), ctx, 'index.html')) },
    },
    {
      path: '/ui/:file',
      anonymous: true,
      methods: {
        GET: (ctx) => {
          const name = ctx.params.file ?? '';
          return files === null ? notBuilt() : serve(files.get(name), ctx, name);
        },
      },
    },
  ];
}
