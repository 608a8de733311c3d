#!/usr/bin/env node
/**
 * The `qproxy` command. Thin by design: parse arguments, load the config, hand it to the node, map
 * outcomes to exit codes (0 clean stop, 2 bad config or usage, 1 anything else). The daily-work
 * commands (records, replay, export, import) live in src/commands and are dispatched through the
 * COMMANDS table. Only this file exits.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { API_COMMANDS, type Command, type CommandIo } from './commands/index.js';
import { ENV_OVERRIDES } from './config/env.js';
import { checkConfigFile, loadConfig } from './config/load.js';
import { ConfigError, QProxyError, errorMessage } from './core/errors.js';
import { createLogger } from './core/log.js';
import type { QProxyNode } from './node/node.js';

const EXIT_OK = 0;
const EXIT_FAILURE = 1;
const EXIT_USAGE = 2;

/** Commands by name: each gets the arguments after its name and returns the exit code. */
const COMMANDS: Readonly<Record<string, { summary: string; run: Command }>> = {
  demo: {
    summary: 'two zones on loopback: record, sync, replay, compare (--once to end)',
    run: async (args, io) => (await import('./demo/command.js')).runDemo(args, io),
  },
  ca: {
    summary: 'create or show the CA the forward proxy intercepts HTTPS with',
    run: async (args, io) => (await import('./commands/ca.js')).caCommand(args, io),
  },
  ...API_COMMANDS,
};

const USAGE = `Usage:
  qproxy                      run a node with ./config.json, or the file named by $CONFIG_PATH
  qproxy --config FILE        run a node with FILE
  qproxy check-config [FILE]  validate a config file (default as above) and print what it would start
${Object.entries(COMMANDS)
  .map(([name, c]) => `  qproxy ${name.padEnd(21)}${c.summary}`)
  .join('\n')}
  qproxy --version | --help   (qproxy COMMAND --help for a command's options)

Environment: CONFIG_PATH, ${ENV_OVERRIDES.map((o) => o.env).join(', ')};
the commands also read QPROXY_API_URL.
Exit codes: 0 clean stop, 2 bad config or usage, 1 other errors (qproxy replay also 3: below --min-success).`;

/** The process, as the commands see it. */
function processIo(): CommandIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    now: () => Date.now(),
    onInterrupt(handler) {
      process.on('SIGINT', handler);
      return () => process.off('SIGINT', handler);
    },
  };
}

async function runNamed(command: Command, args: string[]): Promise<number> {
  const code = await command(args, processIo());
  // Let piped output drain before process.exit cuts it off.
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  return code;
}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

async function main(argv: string[]): Promise<number> {
  const named = argv[0] !== undefined && Object.hasOwn(COMMANDS, argv[0]) ? COMMANDS[argv[0]] : undefined;
  if (named !== undefined) return runNamed(named.run, argv.slice(1));
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  } catch (err) {
    process.stderr.write(`qproxy: ${errorMessage(err)}\n\n${USAGE}\n`);
    return EXIT_USAGE;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return EXIT_OK;
  }
  if (values.version) {
    process.stdout.write(`${version()}\n`);
    return EXIT_OK;
  }
  const [command, ...rest] = positionals;
  if (command === 'check-config') return checkConfig(rest[0] ?? values.config);
  if (command !== undefined) {
    process.stderr.write(`qproxy: unknown command "${command}"\n\n${USAGE}\n`);
    return EXIT_USAGE;
  }
  return run(values.config);
}

function checkConfig(path: string | undefined): number {
  try {
    const result = checkConfigFile(path ?? process.env.CONFIG_PATH ?? 'config.json');
    process.stdout.write(`${result.summary}\n`);
    return EXIT_OK;
  } catch (err) {
    return reportStartupError(err);
  }
}

async function run(path: string | undefined): Promise<number> {
  let node: QProxyNode;
  let logger;
  try {
    const { config } = loadConfig({ ...(path !== undefined ? { path } : {}), env: process.env, cwd: process.cwd() });
    logger = createLogger(config.log.level, config.node_id);
    // Loaded here, not at the top: the API commands start faster without the proxy, store and sync modules.
    const { QProxyNode } = await import('./node/node.js');
    node = await QProxyNode.create(config, logger, version());
    await node.start();
  } catch (err) {
    logger?.flush();
    return reportStartupError(err);
  }
  const log = logger;
  return new Promise<number>((resolve) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      signals++;
      if (signals > 1) {
        log.warn({ signal }, 'second signal: exiting without finishing the drain');
        resolve(EXIT_FAILURE);
        return;
      }
      log.info({ signal }, 'shutting down');
      node.stop().then(
        () => resolve(EXIT_OK),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          resolve(EXIT_FAILURE);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  }).then(
    // The log destination is asynchronous: let the last lines reach stdout before exiting.
    (code) => new Promise<number>((resolve) => log.flush(() => resolve(code))),
  );
}

function reportStartupError(err: unknown): number {
  if (err instanceof ConfigError) {
    process.stderr.write(`qproxy: invalid configuration\n${err.message}\n`);
    return EXIT_USAGE;
  }
  if (err instanceof QProxyError) {
    process.stderr.write(`qproxy: ${err.code}: ${err.message}\n`);
    return EXIT_FAILURE;
  }
  process.stderr.write(`qproxy: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return EXIT_FAILURE;
}

process.on('uncaughtException', (err) => {
  // A bug must not leave a half-working proxy behind: report and exit so a supervisor restarts us.
  process.stderr.write(`qproxy: uncaught exception: ${err.stack ?? err.message}\n`);
  process.exit(EXIT_FAILURE);
});

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => process.exit(reportStartupError(err)),
);
