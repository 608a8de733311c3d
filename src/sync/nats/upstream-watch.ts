/**
 * A Playback node's view of its stream's links to other zones. Across zones the node's own
 * connection and consumer can look healthy while zone B's mirror or source is cut from zone A and
 * records pile up there; only the server knows that, so its stream info is read every few seconds.
 */
import type { JetStreamManager, StreamSourceInfo } from '@nats-io/jetstream';
import type { UpstreamLink } from '../observer.js';
import { domainOfApi } from './stream-setup.js';

const NS_PER_MS = 1_000_000;
/** How often the stream info is read; also how stale `last_active_ms` may be. */
export const UPSTREAM_POLL_MS = 5_000;

/** The server also reports where the origin is (the client's type leaves it out). */
type LinkInfo = StreamSourceInfo & { external?: { api?: string } };

function linkOf(kind: UpstreamLink['kind'], info: LinkInfo): UpstreamLink {
  // `active` is nanoseconds since the last contact, -1 (or absent) when there was none.
  const active = typeof info.active === 'number' && info.active >= 0 ? Math.round(info.active / NS_PER_MS) : null;
  return {
    kind,
    stream: info.name,
    domain: info.external?.api ? domainOfApi(info.external.api) : null,
    lag_messages: info.lag,
    last_active_ms: active,
    error: info.error ? `${info.error.description} (${info.error.code})` : null,
  };
}

export class UpstreamWatch {
  private links: UpstreamLink[] = [];
  private timer: NodeJS.Timeout | null = null;
  private reading = false;

  constructor(private readonly stream: string) {}

  /** The links as last read; empty for a stream with neither mirror nor sources. */
  get current(): readonly UpstreamLink[] {
    return this.links;
  }

  /** Reads now, then every {@link UPSTREAM_POLL_MS} until stop() (or the next start()). */
  start(jsm: JetStreamManager): void {
    this.stop();
    void this.read(jsm);
    this.timer = setInterval(() => void this.read(jsm), UPSTREAM_POLL_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private async read(jsm: JetStreamManager): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    try {
      const info = await jsm.streams.info(this.stream);
      const links: UpstreamLink[] = [];
      if (info.mirror) links.push(linkOf('mirror', info.mirror));
      for (const s of info.sources ?? []) links.push(linkOf('source', s));
      this.links = links;
    } catch {
      // The connection is down or the stream is being set up again: the consumer reports that;
      // the last figures stay until the next read succeeds.
    } finally {
      this.reading = false;
    }
  }
}
