import { spawn, type ChildProcess } from 'node:child_process';
import { ErpmodError } from '../errors';
import { runnerCommand, type ParentDeath } from './runner-command';
import { RunnerOutput, type OutputSink } from './runner-output';
import type { HostToRunner, RunnerLoadInput, RunnerToHost } from './runner-protocol';
import { watchMemoryCeiling, type MemoryCeilingWatch } from './watch-memory-ceiling';

export interface RunnerExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The last lines the runner wrote (its log), for the crash record. */
  readonly lastLines: readonly string[];
  /** The resident size in bytes the host saw when it killed the process over its memory ceiling, else null. */
  readonly overCeilingBytes: number | null;
}

export interface RunnerProcessOptions {
  /** The runner's memory ceiling in MiB: its resident size, native and JavaScript memory alike. */
  readonly memoryMb: number;
  /** The runner's whole environment (runner-environment.ts). */
  readonly env: Record<string, string>;
  /** Where the runner's stdout/stderr lines (its pino log) go, within the limits of runner-output.ts. */
  readonly output: OutputSink;
  readonly onMessage: (message: RunnerToHost) => void;
  readonly onExit: (exit: RunnerExit) => void;
}

/** Every runner still running, killed when the host exits by any path that runs 'exit' listeners. */
const running = new Set<RunnerProcess>();
let exitHookInstalled = false;

function killRunnersOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const runner of running) runner.kill('SIGKILL');
  });
}

/** One runner child (runner-command.ts says how it is started and how it dies with the host). */
export class RunnerProcess {
  private readonly child: ChildProcess;
  private readonly output: RunnerOutput;
  readonly parentDeath: ParentDeath;
  exited = false;
  /** Settles when the process has exited, however it ended. */
  readonly exit: Promise<void>;
  private markExited: () => void = () => {};
  private readonly memoryWatch: MemoryCeilingWatch | undefined;
  private overCeilingBytes: number | null = null;

  constructor(options: RunnerProcessOptions) {
    this.exit = new Promise((resolve) => {
      this.markExited = resolve;
    });
    const command = runnerCommand(options.memoryMb, options.env);
    this.parentDeath = command.parentDeath;
    this.child = spawn(command.file, command.args, {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      // Measured (bench/internal/ipc-framing): JSON frames beat structured clone ~2.7x for request-sized messages.
      serialization: 'json',
      env: options.env,
    });
    killRunnersOnExit();
    running.add(this);
    this.memoryWatch =
      this.child.pid === undefined
        ? undefined
        : watchMemoryCeiling(this.child.pid, options.memoryMb * 1024 * 1024, (resident) => {
            this.overCeilingBytes = resident;
            this.kill('SIGKILL');
          });
    this.output = new RunnerOutput(options.output);
    this.output.read(this.child.stdout!, 'stdout');
    this.output.read(this.child.stderr!, 'stderr');
    this.child.on('message', (message: RunnerToHost) => options.onMessage(message));
    this.child.once('exit', (code, signal) => {
      this.exited = true;
      running.delete(this);
      this.memoryWatch?.stop();
      this.markExited();
      options.onExit({ code, signal, lastLines: this.output.lastLines, overCeilingBytes: this.overCeilingBytes });
    });
    // Both pipes have ended: nothing more will be read.
    this.child.once('close', () => this.output.close());
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
}
