import type { Worker } from 'node:worker_threads';
import { StoreError, errorMessage } from '../core/errors.js';
import { siblingEntry, startWorker } from '../core/worker-entry.js';
import type { FromWriter, ToWriter, WriterInit } from './writer-protocol.js';

/** What opening the file did to it (see schema.ts). */
export interface Opened {
  upgradedFrom: number | null;
  legacyRecords: number;
}

export interface WriterEvents {
  /** Every message after `ready`. */
  message(msg: FromWriter): void;
  /** The thread ended after it was ready; `error` is what killed it, if anything did. */
  exit(code: number, error: Error | null): void;
}

/**
 * Starts the writer entry (writer-worker beside this module, or the one `StoreOptions.writerEntry`
 * names); see core/worker-entry.ts for running from source.
 */
function spawn(init: WriterInit, entryOverride: URL | undefined): Worker {
  const entry = entryOverride ?? siblingEntry(import.meta.url, 'writer-worker');
  try {
    return startWorker(entry, { workerData: init });
  } catch (err) {
    throw new StoreError('QP_ERR_STORE_OPEN', `cannot start the store writer thread (${entry.href}): ${errorMessage(err)}`, {
      cause: err,
    });
  }
}

/** One writer thread's life: started, ready (or failed to open the file), then exited. */
export class WriterThread {
  /** Resolves once the file is open (with what opening did to it); rejects with the StoreError that kept it from opening. */
  readonly ready: Promise<Opened>;
  /** Resolves with the exit code when the thread has ended, whatever the reason. */
  readonly exited: Promise<number>;
  private readonly worker: Worker;
  private isReady = false;
  private lastError: Error | null = null;

  constructor(init: WriterInit, entry: URL | undefined, events: WriterEvents) {
    this.worker = spawn(init, entry);
    let settleReady!: (err: StoreError | null, opened?: Opened) => void;
    this.ready = new Promise<Opened>((resolve, reject) => {
      settleReady = (err, opened) => (err ? reject(err) : resolve(opened!));
    });
    this.worker.on('message', (msg: FromWriter) => {
      if (this.isReady) return events.message(msg);
      if (msg.type === 'ready') {
        this.isReady = true;
        settleReady(null, { upgradedFrom: msg.upgradedFrom, legacyRecords: msg.legacyRecords });
      } else if (msg.type === 'fatal') {
        settleReady(new StoreError(msg.code, msg.message));
      }
    });
    // Without this listener an uncaught error in the thread would be rethrown in the main thread.
    this.worker.on('error', (err) => {
      this.lastError = err;
    });
    this.exited = new Promise<number>((resolve) => {
      this.worker.once('exit', (code) => {
        if (this.isReady) events.exit(code, this.lastError);
        else {
          const why = this.lastError ? errorMessage(this.lastError) : `it exited with code ${code}`;
          settleReady(new StoreError('QP_ERR_STORE_OPEN', `the store writer thread failed to start: ${why}`));
        }
        resolve(code);
      });
    });
  }

  /** Hands a message to the thread; `transfer` moves buffers instead of copying them. */
  post(msg: ToWriter, transfer?: ArrayBuffer[]): void {
    this.worker.postMessage(msg, transfer);
  }

  /** Stops the thread at once, abandoning whatever it had not yet handled. */
  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}
