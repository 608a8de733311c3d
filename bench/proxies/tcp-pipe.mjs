// TCP case (b): the plain relay QProxy's TCP proxy is measured against.
//   node bench/proxies/tcp-pipe.mjs PORT DOWNSTREAM_PORT
// One downstream connection per client, socket.pipe() both ways (backpressure and half-close
// included), nothing else: no timeouts, no limits, no recording.
import net from 'node:net';

const [port, downstreamPort] = process.argv.slice(2).map(Number);

const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
  const down = net.connect({ host: '127.0.0.1', port: downstreamPort, noDelay: true, allowHalfOpen: true });
  client.pipe(down);
  down.pipe(client);
  // A reset on one side ends the other; without these an error would crash the relay.
  client.on('error', () => down.destroy());
  down.on('error', () => client.destroy());
  client.on('close', () => down.destroy());
  down.on('close', () => client.destroy());
});

server.listen(port, '127.0.0.1');
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
