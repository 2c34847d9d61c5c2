/**
 * How should the host talk to an isolated module's process? Measures one request/reply round trip of a
 * typical size three ways, side by side in one run: the IPC channel with JSON serialization, the IPC
 * channel with advanced (structured clone) serialization, and length-prefixed JSON over a Unix socket.
 * Reports latency with one message in flight and throughput with 50 in flight.
 *
 *   node dist/bench/internal/ipc-framing.js [--rounds 3]
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const CHILD = path.join(__dirname, 'ipc-echo-child.js');
const REQUEST = {
  t: 'call',
  key: 'GET /summary',
  request: {
    method: 'GET', route: '/summary', path: '/api/v1/sales/summary', params: {}, query: { limit: '20' },
    headers: { host: '127.0.0.1:3000', 'user-agent': 'bench', accept: '*/*', 'x-request-id': 'abc-123' },
    body: undefined, requestId: 'abc-123',
  },
};

interface Transport {
  send(id: number): void;
  onReply(handler: (id: number) => void): void;
  close(): void;
}

async function ipcTransport(serialization: 'json' | 'advanced'): Promise<Transport> {
  const child: ChildProcess = fork(CHILD, [], { serialization, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  await new Promise((resolve) => setTimeout(resolve, 100));
  return {
    send: (id) => child.send({ ...REQUEST, id }),
    onReply: (handler) => child.on('message', (message: { id: number }) => handler(message.id)),
    close: () => child.kill(),
  };
}

async function socketTransport(): Promise<Transport> {
  const socketPath = path.join(os.tmpdir(), `erpmod-ipc-bench-${process.pid}.sock`);
  fs.rmSync(socketPath, { force: true });
  const child = fork(CHILD, [socketPath], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  await new Promise((resolve) => child.once('message', resolve));
  const socket = net.connect(socketPath);
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.setNoDelay(true);
  let handler: (id: number) => void = () => {};
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4) {
      const length = buffered.readUInt32LE(0);
      if (buffered.length < 4 + length) break;
      const message = JSON.parse(buffered.subarray(4, 4 + length).toString('utf8')) as { id: number };
      buffered = buffered.subarray(4 + length);
      handler(message.id);
    }
  });
  return {
    send: (id) => {
      const payload = Buffer.from(JSON.stringify({ ...REQUEST, id }));
      const header = Buffer.alloc(4);
      header.writeUInt32LE(payload.length, 0);
      socket.write(Buffer.concat([header, payload]));
    },
    onReply: (h) => {
      handler = h;
    },
    close: () => {
      socket.destroy();
      child.kill();
      fs.rmSync(socketPath, { force: true });
    },
  };
}

/** Sends `total` messages keeping `inFlight` outstanding; resolves with elapsed ms. */
function drive(transport: Transport, total: number, inFlight: number): Promise<number> {
  return new Promise((resolve) => {
    let sent = 0;
    let received = 0;
    const started = performance.now();
    transport.onReply(() => {
      received++;
      if (received === total) return resolve(performance.now() - started);
      if (sent < total) transport.send(sent++);
    });
    while (sent < Math.min(inFlight, total)) transport.send(sent++);
  });
}

async function main(): Promise<void> {
  const roundsArg = process.argv.indexOf('--rounds');
  const rounds = roundsArg === -1 ? 3 : Number(process.argv[roundsArg + 1]);
  const contenders: [string, () => Promise<Transport>][] = [
    ['IPC, JSON serialization', () => ipcTransport('json')],
    ['IPC, advanced serialization', () => ipcTransport('advanced')],
    ['Unix socket, length-prefixed JSON', socketTransport],
  ];
  const results = new Map<string, { latencyUs: number[]; perSecond: number[] }>(contenders.map(([name]) => [name, { latencyUs: [], perSecond: [] }]));
  for (let round = 0; round < rounds; round++) {
    // Alternated within each round, so a slow spell of the machine hits every contender alike.
    for (const [name, open] of contenders) {
      const transport = await open();
      await drive(transport, 2000, 1); // warm-up
      const sequentialMs = await drive(transport, 5000, 1);
      const pipelinedMs = await drive(transport, 50_000, 50);
      transport.close();
      results.get(name)!.latencyUs.push((sequentialMs * 1000) / 5000);
      results.get(name)!.perSecond.push(50_000 / (pipelinedMs / 1000));
    }
  }
  const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
  const base = median(results.get('IPC, JSON serialization')!.perSecond);
  const lines = ['| framing | round trip, 1 in flight (µs) | messages/s, 50 in flight | vs JSON IPC |', '| --- | ---: | ---: | ---: |'];
  for (const [name, { latencyUs, perSecond }] of results) {
    lines.push(`| ${name} | ${median(latencyUs).toFixed(1)} | ${Math.round(median(perSecond)).toLocaleString('en-US')} | ${(median(perSecond) / base).toFixed(2)}× |`);
  }
  process.stdout.write(`${lines.join('\n')}\n\n(median of ${rounds} alternated rounds; Node ${process.version}, ${os.cpus()[0]?.model ?? 'unknown CPU'})\n`);
}

void main();
