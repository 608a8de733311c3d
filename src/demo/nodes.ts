/**
 * Runs a QProxy node inside the demo's process, exactly as `qproxy --config FILE` would, except
 * that its log goes to a file in the temp folder (the terminal belongs to the demo's screen).
 */
import { once } from 'node:events';
import { pino } from 'pino';
import type { QProxyConfig } from '../config/schema.js';
import { createLogger } from '../core/log.js';
import { QProxyNode, type NodeAddresses } from '../node/node.js';

/** A started node. */
export interface DemoNode {
  name: string;
  addresses: NodeAddresses;
  /** Base URL of its API, e.g. `http://127.0.0.1:40125`. */
  apiUrl: string;
  logPath: string;
  /** Graceful stop (drain, flush records, close listeners), then the log file is closed. Idempotent. */
  stop(): Promise<void>;
}

/** Longest wait for the log file to be flushed and closed after the node stopped. */
const LOG_CLOSE_MS = 2_000;

/** Creates and starts a node; on failure nothing is left open. */
export async function startDemoNode(name: string, config: QProxyConfig, logPath: string, version: string): Promise<DemoNode> {
  const dest = pino.destination({ dest: logPath, sync: false, mkdir: true });
  const logger = createLogger(config.log.level, config.node_id, dest);
  let node: QProxyNode | null = null;
  const closeLog = async (): Promise<void> => {
    const closed = once(dest, 'close').then(() => undefined, () => undefined);
    await new Promise<void>((resolve) => logger.flush(() => resolve()));
    dest.end();
    await Promise.race([closed, new Promise((r) => setTimeout(r, LOG_CLOSE_MS).unref())]);
  };
  try {
    node = await QProxyNode.create(config, logger, version);
    const addresses = await node.start();
    const started = node;
    let stopping: Promise<void> | null = null;
    return {
      name,
      addresses,
      apiUrl: `http://127.0.0.1:${addresses.api.port}`,
      logPath,
      stop: () => (stopping ??= started.stop().finally(closeLog)),
    };
  } catch (err) {
    await node?.stop().catch(() => undefined);
    await closeLog();
    throw err;
  }
}
