import { errorMessage } from '../core/errors.js';
import type { SenderStore, SyncLogger } from './store-port.js';

/**
 * Writes a sync cursor (with the figures kept beside it) to a store meta key: at most one write in
 * flight, changes made meanwhile folded into the next. A crash before a write lands only means the
 * last acknowledged records are sent again, which the other side drops as duplicates. Shared by the
 * peer sender and the NATS publisher, each with its own key.
 */
export class CursorWriter<T extends { cursor: number }> {
  private durable: number;
  private writing: Promise<void> | null = null;
  private dirty = false;
  private soon: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: Pick<SenderStore, 'setMeta'>,
    private readonly key: string,
    /** The live value; its current contents are what each write saves. */
    private readonly value: T,
    private readonly logger: SyncLogger,
  ) {
    this.durable = value.cursor;
  }

  /** The cursor as last written to disk (what the store's retention floor may rely on). */
  get durableCursor(): number {
    return this.durable;
  }

  /** Saves within `withinMs`, folding every change until then into one write. */
  persistSoon(withinMs: number): void {
    this.soon ??= setTimeout(() => {
      this.soon = null;
      this.persist();
    }, withinMs);
  }

  /** Saves now (or right after the write in flight). */
  persist(): void {
    if (this.soon) {
      clearTimeout(this.soon);
      this.soon = null;
    }
    if (this.writing) {
      this.dirty = true;
      return;
    }
    const snapshot = { ...this.value };
    this.writing = this.store
      .setMeta(this.key, JSON.stringify(snapshot))
      .then(
        () => {
          this.durable = snapshot.cursor;
        },
        (err: unknown) => this.logger.warn({ err: errorMessage(err), key: this.key }, 'sync cursor could not be saved; it is saved with the next acknowledgement'),
      )
      .finally(() => {
        this.writing = null;
        if (this.dirty) {
          this.dirty = false;
          this.persist();
        }
      });
  }

  /** Resolves when the latest value is on disk (or failed to get there). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }
}
