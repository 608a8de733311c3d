/**
 * Runs `qproxy demo` from the sources (through tsx) the way src/cli.ts will once `demo` is wired
 * there: arguments after the script name, the process's streams, exit with the returned code, and
 * an uncaught exception ends the process with 1. test/demo/demo.test.ts falls back to this script
 * while dist/cli.js has no `demo` command.
 */
import { runDemo } from '../../src/demo/command.js';

process.on('uncaughtException', (err) => {
  process.stderr.write(`qproxy: uncaught exception: ${err.stack ?? err.message}\n`);
  process.exit(1);
});

runDemo(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr }).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`qproxy demo: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
