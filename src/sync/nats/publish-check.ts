/**
 * Checks, as the publisher's connection comes up, that the server lets this user publish on the
 * subjects records go to — without storing anything. Connecting and the JetStream API calls of the
 * stream setup succeed without that permission, and a publish the server refuses gets no reply: the
 * refusal showed up only at the first record, after nats.publish_timeout, as a lost acknowledgement.
 *
 * Each probe is a request with a `Nats-Expected-Stream` header naming a stream that cannot exist
 * (stream names hold no "."): the stream refuses it with error 10060 before storing it, while a
 * missing permission fails the request at once. No answer at all (a stream with no_ack) proves
 * nothing either way: the publishes themselves will tell.
 */
import { JetStreamApiError, PubHeaders } from '@nats-io/jetstream';
import { Empty, TimeoutError, headers, type NatsConnection } from '@nats-io/transport-node';
import { errorMessage } from '../../core/errors.js';
import { NatsError, classifyNatsError } from './nats-error.js';
import { pubAckOf } from './pub-ack.js';

/** Not a possible stream name, so no stream takes the probe. */
const NO_STREAM = 'qproxy.link-check';
/** JetStream's "expected stream does not match" (JSStreamNotMatchErr). */
const STREAM_NOT_MATCH = 10060;

/**
 * Resolves when every subject may be published on (and a stream takes it); throws NatsError:
 * QP_ERR_NATS_PERMISSION for a refused subject, QP_ERR_NATS_PUBLISH when no stream takes one.
 */
export async function checkPublishPermission(nc: NatsConnection, subjects: readonly string[], timeoutMs: number, servers: string): Promise<void> {
  const h = headers();
  h.set(PubHeaders.ExpectedStreamHdr, NO_STREAM);
  for (const subject of subjects) {
    let reply;
    try {
      reply = await nc.request(subject, Empty, { headers: h, timeout: timeoutMs });
    } catch (err) {
      if (err instanceof TimeoutError) return;
      const f = classifyNatsError(err, servers);
      throw f.code === 'QP_ERR_NATS_PERMISSION'
        ? new NatsError('QP_ERR_NATS_PERMISSION', `the NATS user may not publish on "${subject}", where records go (${errorMessage(err)}); allow it to publish on the stream's subjects`, { cause: err })
        : f;
    }
    try {
      pubAckOf(reply, subject);
    } catch (err) {
      // The refusal asked for: the subject is the stream's and we may publish on it.
      if (err instanceof JetStreamApiError && err.code === STREAM_NOT_MATCH) continue;
      throw err instanceof NatsError ? err : classifyNatsError(err, servers);
    }
  }
}
