import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { ErpmodError } from '../errors';
import type { HostToRunner, RunnerLoadInput, RunnerToHost } from './runner-protocol';

export interface RunnerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The last lines the runner wrote (its log), for the crash record. */
  readonly lastLines: readonly string[];
}

export interface RunnerProcessOptions {
  /** RLIMIT_DATA of the runner in MiB: bounds native and JavaScript heap alike. */
  readonly memoryMb: number;
  /** Each line the runner writes to stdout/stderr (its pino log), passed on to the host's log. */
  readonly onLine: (line: string) => void;
  readonly onMessage: (message: RunnerToHost) => void;
  readonly onExit: (exit: RunnerExit) => void;
}

const RUNNER = path.join(__dirname, 'module-runner.js');
const KEPT_LINES = 20;

/**
 * One runner child. It is started through `sh -c 'ulimit -d …; exec node runner'` so that the memory
 * ceiling covers what the native code mallocs, not only V8's heap; the IPC channel survives the exec.
 */
export class RunnerProcess {
  private readonly child: ChildProcess;
  private readonly lastLines: string[] = [];
  exited = false;
  /** Settles when the process has exited, however it ended. */
  readonly exit: Promise<void>;
  private markExited: () => void = () => {};

  constructor(private readonly options: RunnerProcessOptions) {
    this.exit = new Promise((resolve) => {
      this.markExited = resolve;
    });
    const limitKb = options.memoryMb * 1024;
    this.child = spawn('/bin/sh', ['-c', `ulimit -d ${limitKb} && exec "$0" "$@"`, process.execPath, RUNNER], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // Measured (bench/internal/ipc-framing): JSON frames beat structured clone ~2.7x for request-sized messages.
      serialization: 'json',
      env: process.env,
    });
    this.child.on('message', (message: RunnerToHost) => options.onMessage(message));
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      let buffered = '';
      stream.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        let newline;
        while ((newline = buffered.indexOf('\n')) !== -1) {
          this.keep(buffered.slice(0, newline));
          buffered = buffered.slice(newline + 1);
        }
      });
    }
    this.child.once('exit', (code, signal) => {
      this.exited = true;
      this.markExited();
      options.onExit({ code, signal, lastLines: [...this.lastLines] });
    });
    this.child.on('error', () => {
      // 'exit' follows a spawn error; nothing more to do here.
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  send(message: HostToRunner): void {
    if (this.exited || !this.child.connected) throw new ErpmodError('ERPMOD_MODULE_UNAVAILABLE', 'the module process is not running');
    this.child.send(message);
  }

  load(input: RunnerLoadInput): void {
    this.send({ t: 'load', input });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (!this.exited) this.child.kill(signal);
  }

  private keep(line: string): void {
    if (line === '') return;
    this.lastLines.push(line);
    if (this.lastLines.length > KEPT_LINES) this.lastLines.shift();
    this.options.onLine(line);
  }
}
