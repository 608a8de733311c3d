// Case (c): node-http-proxy (the `http-proxy` package), the most used Node reverse proxy.
//   node bench/proxies/http-proxy.mjs PORT BACKEND_PORT
// A keep-alive agent to the backend (http-proxy's default is a new connection per request, which
// would measure connection set-up rather than proxying). Records nothing.
import http from 'node:http';
import httpProxy from 'http-proxy';

const [port, backendPort] = process.argv.slice(2).map(Number);
const agent = new http.Agent({ keepAlive: true, maxSockets: 128 });
const proxy = httpProxy.createProxyServer({ target: `http://127.0.0.1:${backendPort}`, agent });
proxy.on('error', (_err, _req, res) => {
  // For a plain HTTP request `res` is a ServerResponse; after an upgrade it would be a socket.
  if (typeof res.writeHead !== 'function') return res.destroy();
  if (res.headersSent) return res.destroy();
  res.writeHead(502, { 'content-length': 0 }).end();
});

const server = http.createServer((req, res) => proxy.web(req, res));
server.keepAliveTimeout = 120_000;
server.listen(port, '127.0.0.1', () => console.log(`http-proxy listening on 127.0.0.1:${port}`));
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections();
    agent.destroy();
    process.exit(0);
  });
}
