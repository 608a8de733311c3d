// Case (b): the plain pass-through proxy — the floor QProxy is measured against.
//   node bench/proxies/plain-undici.mjs PORT BACKEND_PORT
// node:http server + one undici Pool to the backend; method, path, headers and body are forwarded
// and both bodies stream (no buffering). It records nothing and does only what a correct HTTP/1.1
// proxy must: drop hop-by-hop headers (RFC 9110 §7.6.1) and answer 502 when the backend fails.
import http from 'node:http';
import { Pool } from 'undici';

const [port, backendPort] = process.argv.slice(2).map(Number);
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);
// Same upper bound as the http-proxy case's agent, so neither side gets more backend connections.
const pool = new Pool(`http://127.0.0.1:${backendPort}`, { connections: 128 });

function endToEnd(headers) {
  const out = {};
  for (const [name, value] of Object.entries(headers)) if (!HOP_BY_HOP.has(name)) out[name] = value;
  return out;
}

const server = http.createServer(async (req, res) => {
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  try {
    const up = await pool.request({ method: req.method, path: req.url, headers: endToEnd(req.headers), body: hasBody ? req : null });
    res.writeHead(up.statusCode, endToEnd(up.headers));
    // .pipe plus two listeners, not stream.pipeline: on Node 20 pipeline() measured ~30 µs/req more
    // CPU here (80 vs 50 µs at 1 KiB), which would make this floor look slower than it is.
    up.body.on('error', () => res.destroy());
    res.on('close', () => up.body.destroy()); // no-op after the end; frees the backend socket if the client left
    up.body.pipe(res);
  } catch {
    if (res.headersSent) res.destroy();
    else res.writeHead(502, { 'content-length': 0 }).end();
  }
});
server.keepAliveTimeout = 120_000;
server.listen(port, '127.0.0.1', () => console.log(`plain-undici listening on 127.0.0.1:${port}`));
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections();
    pool.close().finally(() => process.exit(0));
  });
}
