// Loopback helpers: free ports, readiness, and the pre-run body check.
import http from 'node:http';
import net from 'node:net';
import { delay } from './procs.mjs';

const HOST = '127.0.0.1';

/**
 * A TCP port free on 127.0.0.1 right now. Some proxies (QProxy) need their port in a config file
 * before they start, so the harness cannot let them bind port 0; the short race is acceptable here.
 */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, HOST, () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function accepts(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: HOST, port });
    sock.setTimeout(1000);
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
    sock.once('timeout', () => done(false));
  });
}

/**
 * Wait until `port` accepts a connection. Gives up after `timeoutMs`, or at once when `isAlive()`
 * turns false (the command exited before listening). Resolves with null or a reason.
 */
export async function waitForPort(port, timeoutMs, isAlive) {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await accepts(port)) return null;
    if (isAlive && !isAlive()) return `the command exited before port ${port} accepted connections`;
    await delay(100);
  }
  return `port ${port} did not accept connections within ${Math.round(timeoutMs / 1000)} s`;
}

/** One request on a fresh connection; resolves with { status, bytes } or { error }. */
export function probe(port, { method = 'GET', path, body }) {
  return new Promise((resolve) => {
    const headers = body ? { 'content-type': 'application/octet-stream', 'content-length': body.length } : {};
    const req = http.request({ host: HOST, port, method, path, headers, agent: false, timeout: 10_000 }, (res) => {
      let bytes = 0;
      res.on('data', (chunk) => (bytes += chunk.length));
      res.on('end', () => resolve({ status: res.statusCode, bytes }));
      res.on('error', (err) => resolve({ error: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', (err) => resolve({ error: err.message }));
    req.end(body);
  });
}

/** GET `path` and resolve with up to `limit` characters of the body, or null on any failure. */
export function fetchText(port, path, limit = 8192) {
  return new Promise((resolve) => {
    const req = http.get({ host: HOST, port, path, agent: false, timeout: 3000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (s) => {
        if (text.length < limit) text += s;
      });
      res.on('end', () => resolve({ status: res.statusCode, text: text.slice(0, limit) }));
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}
