// TCP benchmark backend, run in its own process:  node bench/tcp-backend.mjs PORT
// The first byte of a connection picks what it does:
//   'U'            upload sink: discard everything; on the client's FIN answer the byte count
//                  (8 bytes, big-endian) and close.
//   'D' + u64 BE   download source: send that many bytes (with backpressure), then close.
//   'E'            echo every byte back (ping-pong round trips).
import net from 'node:net';

const port = Number(process.argv[2]);
const BLOCK = Buffer.alloc(1 << 20, 0x61);

function upload(sock, first) {
  let count = first.length;
  sock.on('data', (chunk) => (count += chunk.length));
  sock.on('end', () => {
    const answer = Buffer.alloc(8);
    answer.writeBigUInt64BE(BigInt(count));
    sock.end(answer);
  });
}

function download(sock, total) {
  let left = total;
  const pump = () => {
    while (left > 0) {
      const n = Math.min(left, BLOCK.length);
      left -= n;
      if (!sock.write(n === BLOCK.length ? BLOCK : BLOCK.subarray(0, n))) return void sock.once('drain', pump);
    }
    sock.end();
  };
  sock.resume(); // the client sends nothing more; its FIN must not stall the socket
  pump();
}

const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (sock) => {
  sock.on('error', () => sock.destroy());
  let head = Buffer.alloc(0);
  const onData = (chunk) => {
    head = Buffer.concat([head, chunk]);
    const mode = String.fromCharCode(head[0]);
    if (mode === 'D' && head.length < 9) return;
    sock.off('data', onData);
    if (mode === 'U') upload(sock, head.subarray(1));
    else if (mode === 'D') download(sock, Number(head.readBigUInt64BE(1)));
    else if (mode === 'E') {
      if (head.length > 1) sock.write(head.subarray(1));
      sock.pipe(sock);
    } else sock.destroy();
  };
  sock.on('data', onData);
  sock.on('end', () => {
    if (head.length === 0) sock.end(); // readiness probes connect and close without a byte
  });
});

server.listen(port, '127.0.0.1');
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
