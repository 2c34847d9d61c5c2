import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { after } from 'node:test';
import { makeTempDir, onLogLines } from './host-process';
import { isRunning, processInfo } from './linux-processes';
import { CLI } from './paths';

/**
 * `erpmod serve` in its own process group, watched from outside: every JSON log line, every process it
 * starts (found in /proc while it runs, so workers forked during a roll are counted too), and its exit.
 * For tests that signal it at awkward moments (during boot, a roll, a reload) and then check that
 * nothing of it is left.
 */
export interface ServeProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly logs: Record<string, unknown>[];
  /** Every descendant process seen so far (workers, isolated module runners). */
  readonly descendants: ReadonlySet<number>;
  /** Resolves with the exit code, or the signal name when it was killed. */
  readonly exited: Promise<number | string>;
  waitForLog(predicate: (entry: Record<string, unknown>) => boolean, ms?: number): Promise<Record<string, unknown>>;
  /** The public and admin ports its first worker reported listening on. */
  listening(): Promise<{ port: number; adminPort: number }>;
  /** A POST to the admin listener (operator routes) with the admin token; resolves with the status or the error. */
  adminPost(route: string): Promise<number | string>;
  /** Signals the process group, as systemd's default KillMode and a terminal's Ctrl-C do. */
  signalGroup(signal: NodeJS.Signals): void;
}

const ADMIN_TOKEN = 'signals-test-admin-token';
const started: { pid: number; descendants: Set<number> }[] = [];
/**
 * A test that fails half-way must not leave a cluster behind, nor keep its file from finishing (a running
 * child and the descendants watch would): whatever still runs is killed once the file's tests are done,
 * and again at exit.
 */
function killStarted(): void {
  for (const found of started.flatMap(({ pid, descendants }) => [pid, ...descendants])) {
    try {
      process.kill(found, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}
after(killStarted);
process.once('exit', killStarted);

export function spawnServe(options: { modulesDir: string; env?: Record<string, string>; args?: readonly string[] }): ServeProcess {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--admin-port', '0', ...(options.args ?? [])], {
    env: {
      ...process.env,
      ERPMOD_MODULES_DIR: options.modulesDir,
      ERPMOD_DATA_DIR: makeTempDir('data'),
      ERPMOD_HOST: '127.0.0.1',
      ERPMOD_LOG_LEVEL: 'info',
      ERPMOD_ADMIN_TOKEN: ADMIN_TOKEN,
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const pid = child.pid!;
  const logs: Record<string, unknown>[] = [];
  const descendants = new Set<number>();
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  onLogLines(child.stdout!, (entry) => logs.push(entry));
  const watch = setInterval(() => {
    for (const found of descendantsOf(pid)) descendants.add(found);
  }, 20);
  void exited.then(() => clearInterval(watch));
  started.push({ pid, descendants });

  const waitForLog = async (predicate: (entry: Record<string, unknown>) => boolean, ms = 30_000): Promise<Record<string, unknown>> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = logs.find(predicate);
      if (found !== undefined) return found;
      if (Date.now() > deadline) assert.fail(`the expected log line did not appear within ${ms} ms; logs:\n${logs.map((entry) => entry.msg).join('\n')}\n${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const listening = async (): Promise<{ port: number; adminPort: number }> => {
    const entry = await waitForLog((line) => typeof line.port === 'number' && typeof line.adminPort === 'number', 60_000);
    return { port: entry.port as number, adminPort: entry.adminPort as number };
  };
  return {
    child,
    pid,
    logs,
    descendants,
    exited,
    waitForLog,
    listening,
    adminPost: async (route) => {
      const { adminPort } = await listening();
      return fetch(`http://127.0.0.1:${adminPort}${route}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }).then(
        (reply) => reply.status,
        (error: Error) => error.message,
      );
    },
    signalGroup: (signal) => process.kill(-pid, signal),
  };
}

/** Asserts that the process and everything it started are gone, and that nothing listens on the ports. */
export async function assertNothingLeft(serve: ServeProcess, ports: readonly number[] = []): Promise<void> {
  for (const found of descendantsOf(serve.pid)) (serve.descendants as Set<number>).add(found);
  const alive = [serve.pid, ...serve.descendants].filter(isRunning);
  assert.deepEqual(alive, [], `processes still alive after the host exited: ${alive.join(', ')}`);
  for (const port of ports) assert.ok(await portIsFree(port), `something still listens on port ${port}`);
}

function descendantsOf(root: number): number[] {
  const parents = new Map<number, number>();
  for (const name of fs.readdirSync('/proc')) {
    const info = /^\d+$/.test(name) ? processInfo(Number(name)) : undefined;
    if (info !== undefined) parents.set(info.pid, info.ppid);
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    for (const [pid, ppid] of parents) {
      if (ppid === parent) {
        found.push(pid);
        queue.push(pid);
      }
    }
  }
  return found;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}
