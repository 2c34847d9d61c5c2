/**
 * A server under test in its own process: spawned pinned to the server core, its output kept in memory
 * (so a full pipe never stalls it), ready once an HTTP probe answers, stopped by its pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { SERVER_CORE, pinned } from './pinning';

export interface ServerProcessOptions {
  readonly label: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly port: number;
  /** Answered 200 once the server is ready. */
  readonly readyPath: string;
  readonly readyTimeoutMs?: number;
  /** Extra node flags (e.g. --cpu-prof). */
  readonly nodeFlags?: readonly string[];
  readonly cwd?: string;
  /** Read the output but keep none of it (a server that logs every request would fill memory). */
  readonly discardOutput?: boolean;
}

export interface ServerProcess {
  readonly label: string;
  readonly pid: number;
  readonly port: number;
  readonly url: string;
  /** performance.now() of this process when the server was spawned. */
  readonly spawnedAt: number;
  /** Milliseconds from spawn to the first successful readiness probe. */
  readonly readyAfterMs: number;
  /** Every line the process wrote, stdout and stderr interleaved. */
  readonly lines: string[];
  /** Resident set size now, and its peak (VmHWM), in bytes. */
  memory(): { rss: number; peak: number };
  stop(): Promise<number | null>;
}

// One helper for tests and benchmarks; bench already takes its PostgreSQL server from test/support too.
export { freePort } from '../../test/support/free-port';

export async function startServerProcess(options: ServerProcessOptions): Promise<ServerProcess> {
  const started = performance.now();
  const { command, args } = pinned(SERVER_CORE, process.execPath, [...(options.nodeFlags ?? []), ...options.args]);
  const child = spawn(command, args, { env: options.env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  if (options.discardOutput === true) for (const stream of [child.stdout!, child.stderr!]) stream.resume();
  else collectLines(child, lines);
  let exited: number | null | undefined;
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve((exited = code ?? (signal === null ? null : -1)))));
  const url = `http://127.0.0.1:${options.port}`;
  const deadline = started + (options.readyTimeoutMs ?? 30_000);
  for (;;) {
    if (exited !== undefined) throw new Error(`${options.label} exited (${exited}) before it was ready:\n${lines.slice(-15).join('\n')}`);
    if (performance.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${options.label} was not ready within ${options.readyTimeoutMs ?? 30_000} ms:\n${lines.slice(-15).join('\n')}`);
    }
    if ((await probe(`${url}${options.readyPath}`)) === 200) break;
    await sleep(10);
  }
  const readyAfterMs = performance.now() - started;
  const pid = child.pid!;

  return {
    label: options.label,
    pid,
    port: options.port,
    url,
    spawnedAt: started,
    readyAfterMs,
    lines,
    memory: () => readMemory(pid),
    async stop() {
      if (exited !== undefined) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      const code = await exit;
      clearTimeout(timer);
      return code;
    },
  };
}

function collectLines(child: ChildProcess, lines: string[]): void {
  for (const stream of [child.stdout!, child.stderr!]) {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop()!;
      lines.push(...parts);
    });
    stream.on('end', () => {
      if (rest !== '') lines.push(rest);
    });
  }
}

/** VmRSS and VmHWM from /proc (Linux); NaN elsewhere. */
export function readMemory(pid: number): { rss: number; peak: number } {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string): number => {
      const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status);
      return match === null ? Number.NaN : Number(match[1]) * 1024;
    };
    return { rss: field('VmRSS'), peak: field('VmHWM') };
  } catch {
    return { rss: Number.NaN, peak: Number.NaN };
  }
}

/** The status of one GET, or 0 when nothing answered. */
export function probe(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 1000 }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode ?? 0));
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(0));
  });
}

export interface HttpReply {
  readonly status: number;
  readonly body: string;
  readonly headers: http.IncomingHttpHeaders;
}

/** One request on a fresh connection, for checks and operator calls (not for load). */
export function request(url: string, method = 'GET', body?: string, headers: Record<string, string> = {}): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false, headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
    });
    req.once('error', reject);
    req.end(body);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
