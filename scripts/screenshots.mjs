#!/usr/bin/env node
// Regenerates the web UI screenshots in docs/ (shown in both READMEs): runs the browser test with
// QPROXY_SCREENSHOTS pointing at docs/. Run after `npm run build`; `npm run screenshots` does both.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const child = spawn(process.execPath, ['scripts/run-tests.mjs', 'test/ui/browser.test.ts'], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, QPROXY_SCREENSHOTS: `${root}docs` },
});
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
