// Benchmark backend, run in its own process:  node bench/backend.mjs PORT
//   GET  /1k   -> 200, exactly 1024 bytes of JSON
//   GET  /64k  -> 200, exactly 65536 bytes of JSON
//   POST /echo -> 200, the request body streamed back (content-length kept when the client sent one)
//   anything else -> 404
// Keep-alive is on and the bodies are built once, so the backend costs as little CPU per request as
// node:http allows: on 2 cores it shares a core with the load generator.
import http from 'node:http';
import { pipeline } from 'node:stream';

/** A JSON document padded to exactly `size` bytes, so byte counts can be checked through a proxy. */
function paddedJson(size) {
  const head = `{"size":${size},"pad":"`;
  const tail = '"}';
  return Buffer.from(head + '.'.repeat(size - head.length - tail.length) + tail);
}

const bodies = new Map([['/1k', paddedJson(1024)], ['/64k', paddedJson(65536)]]);

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/echo') {
    const headers = { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' };
    if (req.headers['content-length'] !== undefined) headers['content-length'] = req.headers['content-length'];
    res.writeHead(200, headers);
    pipeline(req, res, () => {});
    return;
  }
  const body = req.method === 'GET' ? bodies.get(req.url) : undefined;
  req.resume();
  if (body === undefined) {
    res.writeHead(404, { 'content-type': 'text/plain', 'content-length': 10 });
    res.end('not found\n');
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
  res.end(body);
});
// Longer than any measured window, so idle pooled connections are never closed under the proxy.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 125_000;

const port = Number(process.argv[2] ?? 0);
server.listen(port, '127.0.0.1', () => {
  console.log(`backend listening on 127.0.0.1:${server.address().port}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)).closeAllConnections());
