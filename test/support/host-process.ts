import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { call, type HttpReply } from './http-client';
import { CLI } from './paths';

export interface HostProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly port: number;
  /** The admin listener (operator routes). */
  readonly adminUrl: string;
  readonly adminPort: number;
  /** ERPMOD_ADMIN_TOKEN when the test set one, otherwise the token the host wrote into its data dir. */
  readonly adminToken: string;
  readonly dataDir: string;
  /** Every parsed JSON log line so far. */
  readonly logs: Record<string, unknown>[];
  /** Everything the process wrote to stderr so far. */
  stderr(): string;
  /** One call to the admin listener with the admin token (headers given here win). */
  admin(route: string, method?: string, body?: unknown, headers?: Record<string, string>): Promise<HttpReply>;
  /** Sends a signal and resolves with the exit code (or signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
}

export interface StartHostProcessOptions {
  readonly modulesDir: string;
  /** Reuse a data dir (for restart tests); a fresh temp dir otherwise. */
  readonly dataDir?: string;
  readonly env?: Record<string, string>;
  readonly timeoutMs?: number;
  /** Extra `erpmod serve` arguments. */
  readonly args?: readonly string[];
  /** Node flags before the script (`node <flags> erpmod.js serve`). */
  readonly nodeFlags?: readonly string[];
  /** Run the script itself, as the installed `erpmod` command runs (its `#!` line picks Node and its flags). */
  readonly asCommand?: boolean;
}

/** Temp directories to remove when the process exits: one listener for all (one each warned past ten). */
const TEMP_DIRS = new Set<string>();
process.once('exit', () => {
  for (const dir of TEMP_DIRS) fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * Hosts started and not yet exited. A test that fails between starting a host and stopping it leaves
 * the host running, and a running child would keep its test file from ever finishing: whatever still
 * runs once the file's tests are done is killed, so the failure is reported instead of a hang.
 */
const RUNNING = new Set<ChildProcess>();
after(() => {
  for (const child of RUNNING) child.kill('SIGKILL');
});

/** A temp directory removed when the process exits. */
export function makeTempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `erpmod-${prefix}-`));
  TEMP_DIRS.add(dir);
  return dir;
}

/** Starts `erpmod serve --port 0 --admin-port 0` in a child process and waits for its "listening" log line. */
export function startHostProcess(options: StartHostProcessOptions): Promise<HostProcess> {
  const dataDir = options.dataDir ?? makeTempDir('data');
  const serveArgs = ['serve', '--port', '0', '--admin-port', '0', ...(options.args ?? [])];
  const [command, args] = options.asCommand === true ? [CLI, serveArgs] : [process.execPath, [...(options.nodeFlags ?? []), CLI, ...serveArgs]];
  const child = spawn(command, args, {
    env: {
      ...process.env,
      ERPMOD_MODULES_DIR: options.modulesDir,
      ERPMOD_DATA_DIR: dataDir,
      ERPMOD_HOST: '127.0.0.1',
      ERPMOD_LOG_LEVEL: 'debug',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  RUNNING.add(child);
  const exited = new Promise<number | string>((resolve) =>
    child.once('exit', (code, signal) => {
      RUNNING.delete(child);
      resolve(code ?? signal ?? 'unknown');
    }),
  );

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`host did not start within ${options.timeoutMs ?? 20_000} ms; logs:\n${formatLogs(logs)}\n${stderr}`));
    }, options.timeoutMs ?? 20_000);
    onLogLines(child.stdout!, (entry) => {
      logs.push(entry);
      if (typeof entry.port === 'number' && typeof entry.adminPort === 'number' && String(entry.msg).includes('listening')) {
        clearTimeout(timer);
        const port = entry.port;
        const adminPort = entry.adminPort;
        const adminUrl = `http://127.0.0.1:${adminPort}`;
        const adminToken = options.env?.ERPMOD_ADMIN_TOKEN ?? fs.readFileSync(path.join(dataDir, 'admin-token'), 'utf8').trim();
        resolve({
          child,
          url: `http://127.0.0.1:${port}`,
          port,
          adminUrl,
          adminPort,
          adminToken,
          dataDir,
          logs,
          stderr: () => stderr,
          admin(route, method = 'GET', body, headers = {}) {
            return call(`${adminUrl}${route}`, method, body, { authorization: `Bearer ${adminToken}`, ...headers });
          },
          stop(signal: NodeJS.Signals = 'SIGTERM') {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
          },
        });
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`host exited with ${code} before listening; logs:\n${formatLogs(logs)}\n${stderr}`), { exitCode: code, logs }));
    });
  });
}

/** Calls `onEntry` with every JSON line the stream writes (a pino log); other lines are ignored. */
export function onLogLines(stream: NodeJS.ReadableStream, onEntry: (entry: Record<string, unknown>) => void): void {
  let buffered = '';
  stream.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let newline;
    while ((newline = buffered.indexOf('\n')) !== -1) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      onEntry(entry);
    }
  });
}

export function formatLogs(logs: readonly Record<string, unknown>[]): string {
  return logs.map((entry) => `${String(entry.level)} ${String(entry.msg)} ${entry.reason ? String(entry.reason) : ''}${entry.err ? String(entry.err) : ''}`).join('\n');
}
