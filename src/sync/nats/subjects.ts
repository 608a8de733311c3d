/**
 * Subject names and message ids. A node_id may hold any printable ASCII, but a NATS subject token
 * may not contain ".", "*", ">" or spaces, so node ids are reduced to a safe token:
 *
 *   <prefix>.rec.<node>.<http|tcp>            one record (or TCP segment), or the manifest of a large one
 *   <prefix>.part.<message token>.<n>         the n-th piece of a large message (not matched by consumers)
 */
import { createHash } from 'node:crypto';

/** Record subjects remembered per Subjects (node ids seen; more only when relaying other nodes' records). */
const MEMO_MAX = 256;
/** Longest token kept verbatim; longer ones are cut and suffixed with a hash so they stay distinct. */
const MAX_TOKEN = 64;

/** `node_id` as a NATS subject token (and consumer name part): `[A-Za-z0-9_-]`, others become `_`. */
export function subjectToken(text: string): string {
  const safe = text.replace(/[^A-Za-z0-9_-]/g, '_');
  if (safe === text && safe.length <= MAX_TOKEN) return safe;
  // Two node ids that differ only in replaced characters must not share a token.
  const hash = createHash('sha256').update(text).digest('hex').slice(0, 8);
  return `${safe.slice(0, MAX_TOKEN - 9)}-${hash}`;
}

/** The default durable consumer of a Playback node: its own, so it gets every record. */
export function defaultDurable(nodeId: string): string {
  return `qproxy-${subjectToken(nodeId)}`;
}

/** Subjects of one deployment (one prefix). */
export class Subjects {
  /** Record subjects by node id and protocol: a publisher asks once per record, nearly always for its own node. */
  private readonly memo = new Map<string, string>();

  constructor(readonly prefix: string) {}

  /** Subject of a record message. */
  record(nodeId: string, protocol: 'http' | 'tcp'): string {
    const key = `${protocol}:${nodeId}`;
    let subject = this.memo.get(key);
    if (subject === undefined) {
      subject = `${this.prefix}.rec.${subjectToken(nodeId)}.${protocol}`;
      if (this.memo.size >= MEMO_MAX) this.memo.clear();
      this.memo.set(key, subject);
    }
    return subject;
  }

  /** What consumers filter on: every record subject, no part subject. */
  get recordFilter(): string {
    return `${this.prefix}.rec.>`;
  }

  /** Subject of the n-th part of the message with id `msgId`. */
  part(msgId: string, n: number): string {
    return `${this.prefix}.part.${msgId.replace(/[^A-Za-z0-9_-]/g, '_')}.${n}`;
  }

  /** Whether a stream subject (with NATS wildcards) covers `subject`. */
  static covers(pattern: string, subject: string): boolean {
    const p = pattern.split('.');
    const s = subject.split('.');
    for (let i = 0; i < p.length; i++) {
      if (p[i] === '>') return s.length > i;
      if (i >= s.length) return false;
      if (p[i] !== '*' && p[i] !== s[i]) return false;
    }
    return p.length === s.length;
  }
}

/**
 * The message id JetStream de-duplicates on. A record is immutable, so its id is enough; an open
 * TCP session is published again as it grows, each time as a new segment: its id names the chunk
 * range and the byte count, so a grown session is never mistaken for a re-send of the earlier one.
 */
export function messageId(id: string, segment?: { base: number; end: number; bytes: number }): string {
  return segment ? `${id}:${segment.base}-${segment.end}:${segment.bytes}` : id;
}
