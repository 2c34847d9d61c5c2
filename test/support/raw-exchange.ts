import net from 'node:net';

/**
 * Writes `text` on a fresh loopback connection to `port` exactly as given (no HTTP client in between, so
 * malformed, oversized or slow requests can be sent) and resolves with everything received once the
 * server closes the connection; rejects when it is still open after `waitMs`.
 */
export function rawExchange(port: number, text: string, waitMs = 3000): Promise<{ reply: string; closedAfterMs: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    let reply = '';
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve({ reply, closedAfterMs: Date.now() - started }));
    setTimeout(() => {
      socket.destroy();
      reject(new Error(`socket still open after ${waitMs} ms; got: ${reply.slice(0, 200)}`));
    }, waitMs);
  });
}
