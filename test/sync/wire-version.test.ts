/**
 * Batch formats between versions: a sender sends format 2 (stored documents as they lie on disk)
 * only to a receiver that announces it, format 1 to an older one, and a receiver stores a format 2
 * document byte for byte.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type IncomingHttpHeaders } from 'node:http2';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { HttpRecord } from '../../src/recording/model.js';
import { decodeBatch, encodeBatch } from '../../src/sync/wire-format.js';
import { segmentFrames } from '../store/helpers.js';
import { MemoryLog, fill, httpRecord, listenH2, openStore, senderOptions, startReceiver, startSender, tempDir, waitFor } from './helpers.js';

type Peer = 'announces 2' | 'announces nothing' | 'answers GET with 405';

/**
 * A receiver in miniature: answers the access check as `peer` says and stores nothing, but keeps
 * the magic of every batch. Like a QProxy older than format 2 when it announces nothing, it refuses
 * a QPB2 body as malformed.
 */
async function fakeReceiver(t: TestContext, peer: Peer): Promise<{ port: number; magics: Set<string>; seqs: number[] }> {
  const magics = new Set<string>();
  const seqs: number[] = [];
  const server = createServer();
  server.on('stream', (stream, headers: IncomingHttpHeaders) => {
    if (headers[':method'] === 'GET') {
      if (peer === 'answers GET with 405') stream.respond({ ':status': 405 }, { endStream: true });
      else stream.respond({ ':status': 204, ...(peer === 'announces 2' && { 'x-qproxy-batch-format': '2' }) }, { endStream: true });
      return;
    }
    const parts: Buffer[] = [];
    stream.on('data', (c: Buffer) => parts.push(c));
    stream.on('end', () => {
      const raw = gunzipSync(Buffer.concat(parts));
      const magic = raw.toString('latin1', 0, 4);
      magics.add(magic);
      if (magic !== 'QPB1' && peer !== 'announces 2') {
        stream.respond({ ':status': 400, 'content-type': 'application/json' });
        stream.end(JSON.stringify({ error: 'malformed sync batch: the body does not start with the QPB1 batch header', code: 'QP_ERR_SYNC_BATCH_MALFORMED' }));
        return;
      }
      const batch = decodeBatch(raw);
      for (const e of batch.entries) seqs.push(e.seq);
      stream.respond({ ':status': 200, 'content-type': 'application/json' });
      stream.end(JSON.stringify({ stored: batch.entries.length, skipped: 0 }));
    });
  });
  const port = await listenH2(t, server);
  return { port, magics, seqs };
}

for (const [peer, magic] of [
  ['announces 2', 'QPB2'],
  ['announces nothing', 'QPB1'],
  ['answers GET with 405', 'QPB1'],
] as const) {
  test(`a sender whose receiver ${peer} sends ${magic} batches, and every record arrives`, async (t) => {
    const dir = await tempDir(t);
    const a = await openStore(t, join(dir, 'a.db'));
    await fill(
      a,
      Array.from({ length: 40 }, (_, i) => httpRecord(i)),
    );
    const rx = await fakeReceiver(t, peer);
    const log = new MemoryLog();
    const sender = await startSender(t, senderOptions(a, rx.port, { logger: log, batch: { maxRecords: 10, maxBytes: 512 * 1024 } }));
    await waitFor(() => sender.status().pending.records === 0, 'every batch acknowledged');
    assert.deepEqual([...rx.magics], [magic]);
    assert.deepEqual(
      [...new Set(rx.seqs)].sort((x, y) => x - y),
      Array.from({ length: 40 }, (_, i) => i + 1),
    );
    assert.equal(sender.status().ledger.refused_by_peer, 0, 'nothing refused: the sender never sent what the receiver cannot read');
    assert.equal(log.count('info', 'does not read sync batch format 2'), magic === 'QPB1' ? 1 : 0);
  });
}

test('a receiver announces format 2 in its answer to the access check', async (t) => {
  const dir = await tempDir(t);
  const b = await openStore(t, join(dir, 'b.db'));
  const { port } = await startReceiver(t, { store: b });
  const session = connect(`http://127.0.0.1:${port}`);
  t.after(() => session.close());
  const headers = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
    const req = session.request({ ':method': 'GET', ':path': '/sync/v1/batches', 'x-qproxy-node': 'az-x' });
    req.on('response', resolve);
    req.on('error', reject);
    req.resume();
  });
  assert.equal(headers[':status'], 204);
  assert.equal(headers['x-qproxy-batch-format'], '2');
});

test('a format 2 document is stored as it came, and the record reads back whole', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'b.db');
  const b = await openStore(t, path);
  const record: HttpRecord = httpRecord(5);
  const { request, response, ...rest } = record;
  // Spacing and key order no serialiser of this version produces: only a verbatim copy keeps them.
  const doc = Buffer.from(
    JSON.stringify(
      {
        ...rest,
        request: { ...request, body: { truncated: request.body.truncated, size: request.body.size } },
        response: response && { ...response, body: { truncated: response.body.truncated, size: response.body.size } },
      },
      null,
      2,
    ),
  );
  const batch = decodeBatch(encodeBatch('az-a-1', [{ seq: 1, record, doc }], 2));
  const e = batch.entries[0]!;
  const result = await b.ingest([e.record], { docs: [e.doc] });
  assert.equal(result.stored, 1);
  const docs = segmentFrames(path).filter((f) => f.kind === 'doc');
  assert.equal(docs.length, 1);
  assert.deepEqual(docs[0]!.payload, doc);
  assert.deepEqual(b.get(record.id), record);
});
