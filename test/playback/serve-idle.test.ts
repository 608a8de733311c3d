import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { HttpStubServer } from '../../src/playback/serve/http-stub-server.js';
import { openIdleClients, silentAfterHandshake, slowClientsAnswered } from '../helpers/idle-clients.js';
import { makeTestPki } from '../helpers/tls.js';
import { defer, openStore, stubOptions } from './helpers.js';

/**
 * The serving listener of a Playback node takes http.timeouts like the Record node's proxy: a
 * connection that delivers no request head within header_read is closed — it used to stay up to
 * 30 s longer (Node's default sweep interval), and a TLS handshake that never ended up to 120 s.
 * Deadlines are short here; the tests wait (bounded) for the server to close, never on a clock.
 */

const HEAD_MS = 300;
const LONG_MS = 120_000;

async function startStub(t: TestContext, tls?: { cert: string; key: string }): Promise<number> {
  const { store } = await openStore(t);
  const stub = new HttpStubServer(
    stubOptions(store, {
      ...(tls && { tls }),
      // request shorter than header_read: the head deadline is the earlier one (Node refuses the other order).
      timeouts: { headerReadMs: LONG_MS, requestMs: HEAD_MS, idleMs: LONG_MS },
    }),
  );
  defer(t, () => stub.close(500));
  return (await stub.listen()).port;
}

test('serving (plain): silent connections and half-sent heads are closed with 408', async (t) => {
  const port = await startStub(t);
  const answers = await slowClientsAnswered(port);
  assert.match(answers.silent, /^HTTP\/1\.1 408 /);
  assert.match(answers.half, /^HTTP\/1\.1 408 /);
});

test('serving (TLS): handshakes that never start and handshaken connections that stay silent are closed', async (t) => {
  const pki = await makeTestPki();
  defer(t, () => pki.cleanup());
  const port = await startStub(t, { cert: pki.server.cert, key: pki.server.key });
  const noHandshake = await openIdleClients(port, 50);
  defer(t, () => noHandshake.destroy());
  await noHandshake.waitAllClosed(10_000);

  const answer = await silentAfterHandshake(port, pki.ca);
  assert.match(answer.toString('latin1'), /^HTTP\/1\.1 408 /);
});
