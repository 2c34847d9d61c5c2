/** The far side of bench/internal/ipc-framing: answers every message with a reply of a typical size. */
import net from 'node:net';

const reply = (id: number): unknown => ({
  t: 'reply',
  id,
  ok: true,
  value: { status: 200, headers: { 'content-type': 'application/json' }, body: '{"by_status":{"confirmed":{"count":12,"total":54000}},"count":12,"total":54000}' },
});

const socketPath = process.argv[2];
if (socketPath !== undefined) {
  // Length-prefixed JSON frames over a Unix socket.
  const server = net.createServer((socket) => {
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      const out: Buffer[] = [];
      while (buffered.length >= 4) {
        const length = buffered.readUInt32LE(0);
        if (buffered.length < 4 + length) break;
        const message = JSON.parse(buffered.subarray(4, 4 + length).toString('utf8')) as { id: number };
        buffered = buffered.subarray(4 + length);
        const payload = Buffer.from(JSON.stringify(reply(message.id)));
        const header = Buffer.alloc(4);
        header.writeUInt32LE(payload.length, 0);
        out.push(header, payload);
      }
      if (out.length > 0) socket.write(Buffer.concat(out));
    });
  });
  server.listen(socketPath, () => process.send?.('listening'));
} else {
  process.on('message', (message: { id: number }) => process.send?.(reply(message.id)));
}
process.on('disconnect', () => process.exit(0));
