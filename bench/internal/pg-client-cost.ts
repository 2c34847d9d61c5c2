/**
 * What one PostgreSQL statement costs the client's CPU: node-postgres on a JavaScript thread (what every
 * `ctx.db` call of a module costs the host today, before the hop between the pool thread and the
 * JavaScript thread) against libpq called from C threads (what a client on the pool threads themselves
 * would cost). The same transactions on both — BEGIN, an INSERT returning its key, a SELECT of that row,
 * COMMIT, prepared — from 8 connections at once, on a real PostgreSQL started for the run; the figure is
 * the client process's CPU time per statement. A measurement for the design of issue 12's remaining
 * goal, run by hand: `node dist/bench/internal/pg-client-cost.js [--seconds S]`. Needs libpq's headers
 * (Debian's libpq-dev) to build the C side.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { withPostgresClient } from '../../test/support/postgres-client';
import { startPostgres } from '../../test/support/postgres-server';

const CONNECTIONS = 8;
const INCLUDE_DIR = '/usr/include/postgresql';

interface ClientCost {
  readonly statements: number;
  readonly cpuUs: number;
  readonly seconds: number;
}

async function nodePostgres(url: string, seconds: number): Promise<ClientCost> {
  const clients = await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    const client = new pg.Client(url);
    await client.connect();
    return client;
  }));
  let statements = 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const end = started + seconds * 1000;
  await Promise.all(clients.map(async (client) => {
    while (performance.now() < end) {
      await client.query('BEGIN');
      const inserted = await client.query({ name: 'ins', text: 'INSERT INTO client_cost (label, amount) VALUES ($1, $2) RETURNING id', values: ['node-postgres', 1250] });
      await client.query({ name: 'sel', text: 'SELECT label, amount FROM client_cost WHERE id = $1', values: [inserted.rows[0].id] });
      await client.query('COMMIT');
      statements += 4;
    }
  }));
  const cpu = process.cpuUsage(cpuBefore);
  const elapsed = (performance.now() - started) / 1000;
  await Promise.all(clients.map((client) => client.end()));
  return { statements, cpuUs: cpu.user + cpu.system, seconds: elapsed };
}

function libpq(url: string, seconds: number, workDir: string): ClientCost | string {
  if (!fs.existsSync(path.join(INCLUDE_DIR, 'libpq-fe.h'))) return `libpq's headers are not installed (${INCLUDE_DIR}/libpq-fe.h; Debian: apt-get install libpq-dev)`;
  const binary = path.join(workDir, 'libpq-statements');
  execFileSync('cc', ['-O2', '-Wall', '-I', INCLUDE_DIR, path.join(__dirname, '..', '..', '..', 'bench', 'internal', 'libpq-statements.c'), '-o', binary, '-lpq', '-lpthread']);
  const started = performance.now();
  const run = spawnSync(binary, [url, String(CONNECTIONS), String(seconds)], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`libpq-statements failed (${run.status}): ${run.stderr}`);
  const result = JSON.parse(run.stdout) as { statements: number; cpuUs: number };
  return { ...result, seconds: (performance.now() - started) / 1000 };
}

async function main(): Promise<void> {
  const at = process.argv.indexOf('--seconds');
  const seconds = at === -1 ? 5 : Number(process.argv[at + 1]);
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'erpmod-pg-client-'));
  const server = await startPostgres();
  try {
    const url = server.createDatabase('client_cost');
    await withPostgresClient(url, (client) => client.query('CREATE TABLE client_cost (id BIGSERIAL PRIMARY KEY, label TEXT NOT NULL, amount BIGINT NOT NULL)'));
    const line = (label: string, cost: ClientCost): string =>
      `${label.padEnd(34)} ${Math.round(cost.statements / cost.seconds).toString().padStart(7)} statements/s  ${(cost.cpuUs / cost.statements).toFixed(1).padStart(6)} µs client CPU per statement`;
    // Alternated twice, so a slow spell of the machine does not land on one side only.
    for (let round = 1; round <= 2; round++) {
      const js = await nodePostgres(url, seconds);
      const c = libpq(url, seconds, workDir);
      process.stdout.write(`round ${round}\n  ${line('node-postgres (one JS thread)', js)}\n`);
      if (typeof c === 'string') {
        process.stdout.write(`  libpq: skipped, ${c}\n`);
        continue;
      }
      process.stdout.write(`  ${line(`libpq (${CONNECTIONS} C threads)`, c)}\n`);
      process.stdout.write(`  node-postgres ÷ libpq, CPU per statement: ${(js.cpuUs / js.statements / (c.cpuUs / c.statements)).toFixed(2)}×\n`);
    }
  } finally {
    server.stop();
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`pg-client-cost failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
