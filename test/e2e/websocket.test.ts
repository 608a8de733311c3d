/**
 * WebSocket connections end to end with real processes: a Record node relays a `ws` echo and a
 * JSON chat server and records their messages, streams the records over peer sync (HTTP/2 + TLS)
 * to a Playback node, which replays them live against zone B's copies of the servers (100 %
 * matched, the chat's changing fields ignored by playback.compare), reports the one server
 * message that differs in an on-demand replay once zone B's chat changes, and serves the recorded
 * server messages to a `ws` client on its own listener.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { WebSocket } from 'ws';
import { makeTestPki } from '../helpers/tls.js';
import { chatHandler, closeClient, echoHandler, nextMessages, openClient, startWsServer, type WsHandler } from '../helpers/ws-servers.js';
import { httpRequest, poll, startCli, tempDir } from './helpers.js';

interface Status {
  records: { count: number };
  playback: { replayed: number; matched: number; mismatched: number; failed: number; success_rate: number | null };
}

/** One server, two paths: /chat is the chat room, anything else echoes. */
async function routedServer(chat: WsHandler): Promise<Awaited<ReturnType<typeof startWsServer>>> {
  const server = await startWsServer((ws, req) => (req.url === '/chat' ? chat(ws, req) : echoHandler(ws, req)), { perMessageDeflate: { threshold: 0 } });
  after(() => server.close());
  return server;
}

/** A chat session: welcome, two lines (each answered and acknowledged), bye (answered, closed by the server with 4000). */
async function chatSession(ws: WebSocket): Promise<Array<string | Buffer>> {
  const closed = once(ws, 'close') as Promise<[number, Buffer]>;
  // The welcome comes first; each line waits for its answers (the server is request/answer).
  const welcome = await nextMessages(ws, 1);
  ws.send(JSON.stringify({ say: 'hello' }));
  await nextMessages(ws, 2);
  ws.send(JSON.stringify({ say: 'how are you' }));
  await nextMessages(ws, 2);
  ws.send(JSON.stringify({ bye: true }));
  const [code] = await closed;
  assert.equal(code, 4000);
  return welcome;
}

test('WebSocket: recorded in zone A → peer sync → replayed 100 % in zone B → one changed frame reported → served', async () => {
  const dir = await tempDir();
  const pki = await makeTestPki();
  after(() => pki.cleanup());
  const variant = { textSuffix: '' };
  const zoneA = await routedServer(chatHandler());
  const zoneB = await routedServer(chatHandler(variant));

  const token = 'ws-link-token';
  const playbackConfig = join(dir, 'playback.json');
  await writeFile(
    playbackConfig,
    JSON.stringify({
      mode: 'Playback',
      node_id: 'zone-b',
      http: { host: '127.0.0.1', port: 0, downstream: zoneB.origin },
      sync: { host: '127.0.0.1', port: 0, token, tls: { tls_cert: join(pki.dir, 'server.pem'), tls_key: join(pki.dir, 'server.key') } },
      api: { host: '127.0.0.1', port: 0 },
      storage: { path: join(dir, 'b.db') },
      playback: {
        live: { enabled: true, delay: '0ms' },
        timeout: '5s',
        compare: { ignore: { json_paths: ['$.at', '$.connection'] } },
      },
      log: { level: 'warn' },
    }),
  );
  const b = await startCli(playbackConfig);
  const syncPort = Number(b.sync!.split(':').pop());
  const recordConfig = join(dir, 'record.json');
  await writeFile(
    recordConfig,
    JSON.stringify({
      mode: 'Record',
      node_id: 'zone-a',
      http: { host: '127.0.0.1', port: 0, downstream: zoneA.origin },
      peer: { host: 'localhost', port: syncPort, tls: true, token, ca: join(pki.dir, 'ca.pem') },
      api: { host: '127.0.0.1', port: 0 },
      storage: { path: join(dir, 'a.db') },
      log: { level: 'warn' },
    }),
  );
  const a = await startCli(recordConfig);
  const wsA = a.http.replace(/^http/, 'ws');

  // Zone A traffic: an echo connection (permessage-deflate offered and accepted) and a chat session.
  const echo = await openClient(`${wsA}/echo`);
  const echoed = nextMessages(echo, 3);
  echo.send('one');
  echo.send(Buffer.from([1, 2, 3]));
  echo.send(JSON.stringify({ n: 3 }));
  await echoed;
  assert.equal(await closeClient(echo, 1000, 'done'), 1000);
  const chat = await openClient(`${wsA}/chat`, { perMessageDeflate: false });
  await chatSession(chat);

  // Both records reach zone B with their messages, and the live replay matches them all.
  const statusOf = async (node: { api: string }): Promise<Status> => JSON.parse((await httpRequest(`${node.api}/api/status`)).body) as Status;
  const bStatus = await poll(() => statusOf(b), (s) => s.playback.replayed >= 2, 400, 50);
  assert.equal(bStatus.records.count, 2);
  assert.equal(bStatus.playback.matched, 2, `both connections match: ${JSON.stringify(bStatus.playback)}`);
  assert.equal(bStatus.playback.success_rate, 1);

  const list = JSON.parse((await httpRequest(`${b.api}/api/records?limit=10`)).body) as { records: Array<{ id: string; url: string }> };
  const chatId = list.records.find((r) => r.url.endsWith('/chat'))!.id;
  const echoId = list.records.find((r) => r.url.endsWith('/echo'))!.id;
  const echoRecord = JSON.parse((await httpRequest(`${b.api}/api/records/${echoId}`)).body) as {
    websocket: { deflate: boolean; messages: Array<{ dir: string; opcode: string; text?: string; data: string; close_code?: number }>; messages_total: number };
  };
  assert.equal(echoRecord.websocket.deflate, true, 'permessage-deflate was negotiated');
  assert.deepEqual(
    echoRecord.websocket.messages.filter((m) => m.dir === 'c2s').map((m) => [m.opcode, m.text ?? m.data, m.close_code]),
    [
      ['text', 'one', undefined],
      ['binary', 'AQID', undefined],
      ['text', '{"n":3}', undefined],
      ['close', 'A+hkb25l', 1000],
    ],
  );
  const page = JSON.parse((await httpRequest(`${b.api}/api/records/${chatId}/websocket?offset=2&limit=3`)).body) as { messages: Array<{ n: number }>; next: number | null; messages_total: number };
  assert.deepEqual(page.messages.map((m) => m.n), [2, 3, 4]);
  assert.equal(page.next, 5);
  assert.ok(page.messages_total >= 10, `chat messages: ${page.messages_total}`);

  // Zone B's chat now answers differently: an on-demand replay of the chat reports the message.
  variant.textSuffix = '!';
  const created = await httpRequest(`${b.api}/api/replays`, { method: 'POST', body: JSON.stringify({ ids: [chatId] }), headers: { 'content-type': 'application/json' } });
  assert.equal(created.status, 201, created.body);
  const replayId = (JSON.parse(created.body) as { id: string }).id;
  // The result is there once the results thread committed it.
  const detail = await poll(() => httpRequest(`${b.api}/api/replays/${replayId}/results/${chatId}`), (r) => r.status === 200, 400, 50);
  const { result } = JSON.parse(detail.body) as { result: { status: string; diff: string } };
  assert.equal(result.status, 'mismatch');
  // Messages: 0 welcome (s2c), 1 hello (c2s), 2 answer, 3 ack, 4 line, 5 answer, …
  assert.match(result.diff, /message #2: \$\.text: "hello" → "hello!"/);
  assert.match(result.diff, /message #5: \$\.text: "how are you" → "how are you!"/);

  // Serve: zone B's listener answers a ws client with the recorded server messages.
  // Serving indexes new recordings every 500 ms: wait for both.
  await poll(
    async () => JSON.parse((await httpRequest(`${b.api}/api/status`)).body) as { playback: { serve: { http: { recordings: number } } } },
    (st) => st.playback.serve.http.recordings === 2,
    400,
    50,
  );
  const served = await openClient(`${b.http.replace(/^http/, 'ws')}/chat`, { perMessageDeflate: false });
  const welcome = await chatSession(served);
  assert.match(String(welcome[0]), /"welcome":"room-1","connection":1,/, 'the recorded welcome (zone B\'s own chat server is at connection 3 by now)');

  for (const node of [a, b]) {
    node.child.kill('SIGTERM');
    const [code] = (await once(node.child, 'exit')) as [number | null];
    assert.equal(code, 0, `clean exit; stderr: ${node.stderr.join('')}`);
  }
});
