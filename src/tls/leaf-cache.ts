/**
 * TLS contexts for intercepted hosts, minted on first use and kept in a bounded LRU (a Map in
 * recency order: a hit moves the entry to the end, an insert past the bound drops the first).
 * Concurrent handshakes for a host not cached yet share one mint. A context is minted again when
 * its certificate is within a day of expiring, so a node that runs for a year keeps working.
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import type { CertificateAuthority } from './authority.js';
import { DAY_MS, normalizeHost } from './ca-profile.js';

/** Told about mints (a metrics counter). */
export interface LeafCacheObserver {
  minted(): void;
}

/** Makes the TLS context for one host; the cache calls it on a miss. */
export interface LeafMinter {
  mint(host: string): Promise<{ context: SecureContext; notAfter: number }>;
}

/** Contexts for leaves signed by `ca`, all carrying its shared leaf key. */
export function caMinter(ca: CertificateAuthority): LeafMinter {
  return {
    async mint(host) {
      const leaf = await ca.mint(host);
      return { context: createSecureContext({ key: ca.leafKeyPem, cert: leaf.chainPem }), notAfter: leaf.notAfter };
    },
  };
}

interface Entry {
  context: SecureContext;
  renewAt: number;
}

export class LeafContexts {
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<SecureContext>>();
  private mintedCount = 0;

  constructor(
    private readonly minter: LeafMinter,
    /** Most contexts kept. */
    readonly capacity: number,
    private readonly observer: LeafCacheObserver | null = null,
  ) {}

  /** Contexts cached now (never more than `capacity`). */
  get size(): number {
    return this.entries.size;
  }

  /** Leaf certificates minted since start (cache misses). */
  get minted(): number {
    return this.mintedCount;
  }

  /**
   * The context for `host`: from the cache, or minted. Rejects with CaError `QP_ERR_CA_HOST` for a
   * name no certificate can carry.
   */
  contextFor(host: string): Promise<SecureContext> {
    const key = normalizeHost(host);
    const hit = this.entries.get(key);
    if (hit !== undefined && Date.now() < hit.renewAt) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return Promise.resolve(hit.context);
    }
    let pending = this.pending.get(key);
    if (pending === undefined) {
      pending = this.mint(key).finally(() => this.pending.delete(key));
      this.pending.set(key, pending);
    }
    return pending;
  }

  private async mint(key: string): Promise<SecureContext> {
    const { context, notAfter } = await this.minter.mint(key);
    this.mintedCount++;
    this.observer?.minted();
    this.entries.delete(key);
    this.entries.set(key, { context, renewAt: notAfter - DAY_MS });
    while (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return context;
  }
}
