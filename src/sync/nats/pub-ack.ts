/**
 * Reading JetStream's reply to a publish (the PubAck) the way @nats-io/jetstream's `js.publish`
 * does, so a failure raises the same error types and nats-error.ts classifies it as before: an
 * error document becomes JetStreamApiError (e.g. 10077 "maximum messages exceeded" from a stream
 * with discard new), a reply without a stream name JetStreamError.
 */
import { JetStreamApiError, JetStreamError, type ApiError } from '@nats-io/jetstream';
import type { Msg } from '@nats-io/transport-node';
import { NatsError } from './nats-error.js';
import { isNoResponders } from './reply-tracker.js';

/** What an accepted publish tells the publisher. */
export interface PubAck {
  stream: string;
  seq: number;
  /** The stream already held a message with this id (inside its duplicate window) and dropped this one. */
  duplicate: boolean;
}

interface PubAckDoc {
  stream?: unknown;
  seq?: unknown;
  duplicate?: unknown;
  error?: ApiError;
}

const decoder = new TextDecoder();

/**
 * The PubAck of `reply` to a publish on `subject`. Throws NatsError QP_ERR_NATS_PUBLISH for "503 no
 * responders" (no stream takes the subject: JetStream is down or the stream was deleted; the
 * message says "no responders", which makes the publisher set the stream up again), and
 * otherwise what `readPubAck` throws.
 */
export function pubAckOf(reply: Msg, subject: string): PubAck {
  if (isNoResponders(reply)) {
    throw new NatsError(
      'QP_ERR_NATS_PUBLISH',
      `a publish to "${subject}" got "no responders": no JetStream stream takes it (JetStream is down or the stream was deleted); setting the stream up again`,
    );
  }
  return readPubAck(reply);
}

/** The PubAck of `reply`; throws JetStreamApiError for a refusal, JetStreamError for anything unreadable. */
export function readPubAck(reply: Msg): PubAck {
  let doc: PubAckDoc;
  try {
    doc = JSON.parse(decoder.decode(reply.data)) as PubAckDoc;
  } catch {
    throw new JetStreamError('invalid ack response');
  }
  if (doc.error) throw new JetStreamApiError(doc.error);
  if (typeof doc.stream !== 'string' || doc.stream === '') throw new JetStreamError('invalid ack response');
  return { stream: doc.stream, seq: typeof doc.seq === 'number' ? doc.seq : 0, duplicate: doc.duplicate === true };
}
