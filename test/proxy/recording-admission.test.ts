import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { WebSocket } from 'ws';
import type { HttpRequestHead } from '../../src/recording/selector.js';
import { startEchoBackend, startWsEchoBackend, type Echo, type EchoBackend, type WsBackend } from '../helpers/backend.js';
import { CollectingRecorder, send, startProxy, waitFor, type ProxyHarness } from './harness.js';

/** Admits everything except targets under /skip, and keeps every head it was asked about. */
class SelectiveRecorder extends CollectingRecorder {
  readonly heads: HttpRequestHead[] = [];
  override admit(head: HttpRequestHead): boolean {
    this.heads.push(head);
    return !head.target.startsWith('/skip');
  }
}

// The proxy asks the recorder once per exchange, at its head, and an exchange it does not admit is
// proxied exactly as with recording off: bodies stream through, nothing is captured or committed.
void describe('recording admission at the request head', () => {
  let echo: EchoBackend;
  let ws: WsBackend;
  let px: ProxyHarness;
  let wsPx: ProxyHarness;
  const recorder = new SelectiveRecorder();
  const wsRecorder = new SelectiveRecorder();

  before(async () => {
    echo = await startEchoBackend();
    ws = await startWsEchoBackend();
    px = await startProxy(echo.origin, { recorder });
    wsPx = await startProxy(ws.origin, { recorder: wsRecorder });
  });
  after(async () => {
    await px.close();
    await wsPx.close();
    await echo.close();
    await ws.close();
  });

  void it('passes the head as received, and records only what was admitted', async () => {
    const body = Buffer.alloc(300_000, 0x61);
    const skipped = await send(px.port, { method: 'POST', path: '/skip/upload?token=t', headers: { 'x-user-id': 'ann' }, body });
    assert.equal(skipped.status, 200);
    const echoed = JSON.parse(skipped.body.toString()) as Echo;
    assert.equal(echoed.bodyLength, body.length, 'a skipped exchange still streams its body through');
    assert.equal(echoed.sha256, createHash('sha256').update(body).digest('hex'));
    const kept = await send(px.port, { path: '/keep?x=1' });
    assert.equal(kept.status, 200);

    await waitFor(() => recorder.drafts.length === 1, 'the admitted exchange to be committed');
    assert.equal(recorder.drafts[0]!.request.url, '/keep?x=1');
    assert.deepEqual(
      recorder.heads.map((h) => [h.method, h.target]),
      [
        ['POST', '/skip/upload?token=t'],
        ['GET', '/keep?x=1'],
      ],
    );
    const first = recorder.heads[0]!;
    assert.ok(first.rawHeaders.includes('x-user-id') && first.rawHeaders.includes('ann'));
    assert.equal(first.client.address, '127.0.0.1');
    assert.equal(first.tls, null);
  });

  void it('asks for upgrades too, and a skipped upgrade still tunnels', async () => {
    const skip = new WebSocket(`ws://127.0.0.1:${wsPx.port}/skip/ws`);
    await once(skip, 'open');
    skip.send('one');
    assert.equal(String(((await once(skip, 'message')) as [Buffer])[0]), 'one');
    skip.close();
    await once(skip, 'close');
    const keep = new WebSocket(`ws://127.0.0.1:${wsPx.port}/ws`);
    await once(keep, 'open');
    keep.close();
    await once(keep, 'close');

    await waitFor(() => wsRecorder.drafts.length === 1, 'the admitted upgrade to be committed');
    assert.equal(wsRecorder.drafts[0]!.request.url, '/ws');
    assert.equal(wsRecorder.drafts[0]!.status, 101);
    assert.deepEqual(wsRecorder.heads.map((h) => h.target), ['/skip/ws', '/ws']);
  });
});
