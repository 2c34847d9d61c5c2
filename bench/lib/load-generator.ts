/**
 * Drives a server from a separate process pinned to the load core: wrk (installed from Debian when
 * missing), else autocannon's CLI. Results come back as one shape, latencies in milliseconds.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { LOAD_CORE, pinned } from './pinning';

export interface LoadOptions {
  readonly url: string;
  readonly seconds: number;
  readonly connections: number;
  readonly method?: 'GET' | 'POST';
  /** A JSON body; every `{n}` becomes a counter unique within this run (e.g. a fresh SKU per request). */
  readonly bodyTemplate?: string;
  /** Think time per connection between a reply and the next request: offered load ≈ connections × 1000 / delayMs. */
  readonly delayMs?: number;
  /** Where scripts are written. */
  readonly workDir: string;
}

export interface LoadResult {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly requests: number;
  /** Socket errors and timeouts. */
  readonly errors: number;
  /** Replies outside 2xx/3xx. */
  readonly non2xx: number;
}

export type LoadTool = 'wrk' | 'autocannon';

let tool: LoadTool | undefined;
let scripts = 0;

/** wrk when present or installable, else autocannon. Installs wrk with apt-get (as root, or sudo -n). */
export function loadTool(log: (line: string) => void = () => {}): LoadTool {
  if (tool !== undefined) return tool;
  if (!hasWrk()) {
    log('wrk is missing: installing it with apt-get (Debian package "wrk")');
    const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    const apt = (args: string[]): boolean =>
      (asRoot ? spawnSync('apt-get', args, { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }) : spawnSync('sudo', ['-n', 'apt-get', ...args], { stdio: 'ignore' })).status === 0;
    if (!apt(['install', '-y', 'wrk'])) apt(['update']) && apt(['install', '-y', 'wrk']);
    if (!hasWrk()) log('wrk could not be installed: falling back to autocannon (its own client costs more per request; ratios stay comparable)');
  }
  tool = hasWrk() ? 'wrk' : 'autocannon';
  return tool;
}

function hasWrk(): boolean {
  const result = spawnSync('wrk', ['-v'], { stdio: 'ignore' });
  return result.error === undefined;
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  return loadTool() === 'wrk' ? runWrk(options) : runAutocannon(options);
}

async function runWrk(options: LoadOptions): Promise<LoadResult> {
  const script = path.join(options.workDir, `wrk-${process.pid}-${++scripts}.lua`);
  fs.writeFileSync(script, wrkScript(options));
  const { command, args } = pinned(LOAD_CORE, 'wrk', ['-t1', `-c${options.connections}`, `-d${options.seconds}s`, '--timeout', '10s', '-s', script, options.url]);
  const output = await capture(command, args);
  fs.rmSync(script, { force: true });
  const line = output.split('\n').find((l) => l.startsWith('WRK_JSON '));
  if (line === undefined) throw new Error(`wrk printed no summary:\n${output}`);
  const r = JSON.parse(line.slice('WRK_JSON '.length)) as Record<string, number>;
  return {
    requestsPerSecond: r.requests! / (r.duration_us! / 1e6),
    p50Ms: r.p50! / 1000,
    p90Ms: r.p90! / 1000,
    p99Ms: r.p99! / 1000,
    maxMs: r.max! / 1000,
    requests: r.requests!,
    errors: r.connect! + r.read! + r.write! + r.timeout!,
    non2xx: r.status!,
  };
}

function wrkScript(options: LoadOptions): string {
  const lines = [`wrk.method = "${options.method ?? 'GET'}"`];
  if (options.bodyTemplate !== undefined) {
    const [before, after = ''] = options.bodyTemplate.split('{n}');
    lines.push(
      'wrk.headers["content-type"] = "application/json"',
      `local before, after = ${luaString(before!)}, ${luaString(after)}`,
      'local counter = 0',
      'request = function()',
      '  counter = counter + 1',
      '  return wrk.format(nil, nil, nil, before .. counter .. after)',
      'end',
    );
  }
  if (options.delayMs !== undefined) lines.push(`delay = function() return ${Math.max(1, Math.round(options.delayMs))} end`);
  lines.push(
    'done = function(summary, latency, requests)',
    '  local e = summary.errors',
    '  io.write(string.format(\'WRK_JSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d}\\n\',',
    '    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,',
    '    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))',
    'end',
  );
  return `${lines.join('\n')}\n`;
}

function luaString(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

async function runAutocannon(options: LoadOptions): Promise<LoadResult> {
  const cli = require.resolve('autocannon/autocannon.js');
  const extra: string[] = [];
  if (options.method !== undefined) extra.push('-m', options.method);
  if (options.bodyTemplate !== undefined) extra.push('-H', 'content-type=application/json', '-I', '-b', options.bodyTemplate.replace(/\{n\}/g, '[<id>]'));
  if (options.delayMs !== undefined) extra.push('-R', String(Math.round((options.connections * 1000) / options.delayMs)));
  const { command, args } = pinned(LOAD_CORE, process.execPath, [cli, '-j', '-c', String(options.connections), '-d', String(options.seconds), ...extra, options.url]);
  const output = await capture(command, args);
  const start = output.indexOf('{');
  const r = JSON.parse(output.slice(start)) as {
    requests: { total: number };
    duration: number;
    latency: { p50: number; p90: number; p99: number; max: number };
    errors: number;
    timeouts: number;
    non2xx: number;
  };
  return {
    requestsPerSecond: r.requests.total / r.duration,
    p50Ms: r.latency.p50,
    p90Ms: r.latency.p90,
    p99Ms: r.latency.p99,
    maxMs: r.latency.max,
    requests: r.requests.total,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
  };
}

function capture(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    child.once('error', reject);
    // 'close', not 'exit': the process can exit before its output has been read (wrk's summary was lost so).
    child.once('close', (code, signal) => (code === 0 ? resolve(out) : reject(new Error(`${command} ${args.join(' ')} exited ${code ?? signal}:\n${out}`))));
  });
}
