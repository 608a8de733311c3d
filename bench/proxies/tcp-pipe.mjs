// TCP case (b): the plain relay QProxy's TCP proxy is measured against.
//   node bench/proxies/tcp-pipe.mjs PORT DOWNSTREAM_PORT [DELAY_MS]
// One downstream connection per client, socket.pipe() both ways (backpressure and half-close
// included), nothing else: no timeouts, no limits, no recording.
//
// With DELAY_MS (the sync benchmark's emulated zone link) every chunk is held DELAY_MS in each
// direction, in order, so a round trip costs 2 × DELAY_MS; a direction with more than 4 MiB held or
// queued pauses its reader, as pipe() would.
import net from 'node:net';

const [port, downstreamPort, delayMs = 0] = process.argv.slice(2).map(Number);
const HELD_MAX = 4 * 1024 * 1024;

/** src → dst, each chunk (and the end) DELAY_MS late; timers of equal delay fire in order. */
function delayed(src, dst) {
  let held = 0;
  src.on('data', (chunk) => {
    held += chunk.byteLength;
    if (held + dst.writableLength > HELD_MAX) src.pause();
    setTimeout(() => {
      held -= chunk.byteLength;
      if (!dst.destroyed) dst.write(chunk);
      if (src.isPaused() && held + dst.writableLength <= HELD_MAX) src.resume();
    }, delayMs);
  });
  dst.on('drain', () => {
    if (src.isPaused() && held + dst.writableLength <= HELD_MAX) src.resume();
  });
  src.on('end', () => setTimeout(() => dst.end(), delayMs));
}

const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
  const down = net.connect({ host: '127.0.0.1', port: downstreamPort, noDelay: true, allowHalfOpen: true });
  if (delayMs > 0) {
    delayed(client, down);
    delayed(down, client);
  } else {
    client.pipe(down);
    down.pipe(client);
  }
  // A reset on one side ends the other; without these an error would crash the relay.
  client.on('error', () => down.destroy());
  down.on('error', () => client.destroy());
  client.on('close', () => down.destroy());
  down.on('close', () => client.destroy());
});

server.listen(port, '127.0.0.1');
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
