import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * The module `name` beside the module `from` (its import.meta.url), with the same extension:
 * `.js` under dist, `.ts` when running from source.
 */
export function siblingEntry(from: string, name: string): URL {
  return new URL(`./${name}${extname(fileURLToPath(from))}`, from);
}

/**
 * Starts a worker thread on `entry`. A `.ts` entry (running from source) registers tsx inside the
 * thread first: Node 20 does not apply the parent's `--import` loader hooks to worker threads
 * (privatenumber/tsx#354). Dist never touches tsx. Throws what the Worker constructor throws.
 */
export function startWorker(entry: URL, options: WorkerOptions = {}): Worker {
  if (extname(fileURLToPath(entry)) !== '.ts') return new Worker(entry, options);
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((api) => { api.register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(bootstrap, { ...options, eval: true });
}
