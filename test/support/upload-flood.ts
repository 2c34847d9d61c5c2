import fs from 'node:fs';
import net from 'node:net';

export interface FloodResult {
  /** Replies by status line code; 'reset' for connections closed without a reply. */
  readonly statuses: Record<string, number>;
  readonly ms: number;
}

/**
 * `connections` loopback clients, all at once, each POSTing `bodyBytes` bytes to `path` (one shared
 * buffer, so the client itself stays small). Every client sends all but the last byte, and the last
 * bytes go out only once every client has written the rest: the host sees all the bodies in flight at
 * the same time, the worst case for its memory. Resolves when every connection has been answered or closed.
 */
export function uploadFlood(port: number, path: string, connections: number, bodyBytes: number): Promise<FloodResult> {
  const body = Buffer.alloc(bodyBytes, 0x61);
  const head = `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${bodyBytes}\r\nConnection: close\r\n\r\n`;
  const statuses: Record<string, number> = {};
  const started = Date.now();
  let open = connections;
  let unsent = connections;
  const waiting: net.Socket[] = [];
  const counted = new WeakSet<net.Socket>();
  const sentAllButLast = (socket: net.Socket): void => {
    if (counted.has(socket)) return;
    counted.add(socket);
    if (!socket.destroyed) waiting.push(socket);
    if (--unsent === 0) setTimeout(() => waiting.forEach((s) => s.destroyed || s.write(body.subarray(bodyBytes - 1))), 500);
  };
  return new Promise((resolve) => {
    for (let i = 0; i < connections; i++) {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.write(head);
        socket.write(body.subarray(0, bodyBytes - 1), () => sentAllButLast(socket));
      });
      let status = 'reset';
      socket.once('data', (chunk) => {
        status = /^HTTP\/1\.1 (\d{3})/.exec(chunk.toString('latin1'))?.[1] ?? 'garbled';
      });
      socket.on('data', () => undefined);
      socket.on('error', () => undefined);
      socket.once('close', () => {
        sentAllButLast(socket);
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (--open === 0) resolve({ statuses, ms: Date.now() - started });
      });
    }
  });
}

/** Resident and peak resident memory of a Linux process, in MB (from /proc/<pid>/status). */
export function memoryOf(pid: number): { rssMb: number; peakMb: number } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMb: Math.round(kb('VmRSS') / 1024), peakMb: Math.round(kb('VmHWM') / 1024) };
}
