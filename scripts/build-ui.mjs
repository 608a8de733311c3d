#!/usr/bin/env node
// Builds the web UI (src/ui/app) into dist/ui/static: one bundled, minified script and one style
// sheet (esbuild), plus the page and its icon. The server reads these files at start; nothing is
// fetched at run time. Type checking is `tsc -p src/ui/app` (esbuild only strips types).
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const app = `${root}src/ui/app/`;
const out = `${root}dist/ui/static/`;

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  entryPoints: { app: `${app}main.tsx` },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome115', 'firefox115', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: out,
  legalComments: 'eof',
  logLevel: 'warning',
});
await build({
  entryPoints: { app: `${app}style.css` },
  bundle: true,
  minify: true,
  outdir: out,
  logLevel: 'warning',
});
for (const file of ['index.html', 'favicon.svg']) copyFileSync(`${app}${file}`, `${out}${file}`);
