import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import type { Readable } from 'node:stream';
import { ErpmodError } from '../errors';
import { childrenOf } from '../process-tree';
import { runnerCommand, SANDBOX_INFO_FD, type ParentDeath } from './runner-command';
import { runnerSandboxArgs, type RunnerSandboxInput } from './runner-sandbox';
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
  /** Start the runner inside bubblewrap (runner-sandbox.ts says what it sees); undefined runs it unconfined. */
  readonly sandbox?: { readonly bwrap: string; readonly input: RunnerSandboxInput };
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
  private memoryWatch: MemoryCeilingWatch | undefined;
  /** True when the process spawned is bwrap, with the runner two levels below it (runner-sandbox.ts). */
  readonly sandboxed: boolean;
  /** The pid of the process that runs Node (bwrap's grandchild when sandboxed), once known. */
  runnerPid: number | undefined;
  private overCeilingBytes: number | null = null;

  constructor(options: RunnerProcessOptions) {
    this.exit = new Promise((resolve) => {
      this.markExited = resolve;
    });
    const sandbox = options.sandbox === undefined ? undefined : { bwrap: options.sandbox.bwrap, args: runnerSandboxArgs(options.sandbox.input, options.env, SANDBOX_INFO_FD) };
    const command = runnerCommand(options.memoryMb, options.env, sandbox);
    this.parentDeath = command.parentDeath;
    this.sandboxed = command.sandboxed;
    this.child = spawn(command.file, command.args, {
      stdio: command.sandboxed ? ['ignore', 'pipe', 'pipe', 'ipc', 'pipe'] : ['ignore', 'pipe', 'pipe', 'ipc'],
      // Measured (bench/internal/ipc-framing): JSON frames beat structured clone ~2.7x for request-sized messages.
      serialization: 'json',
      env: options.env,
    });
    killRunnersOnExit();
    running.add(this);
    const watch = (pid: number): MemoryCeilingWatch | undefined =>
      watchMemoryCeiling(pid, options.memoryMb * 1024 * 1024, (resident) => {
        this.overCeilingBytes = resident;
        // Sandboxed, this ends bwrap; its init dies with it, and with the init every process of the sandbox.
        this.kill('SIGKILL');
      });
    if (!command.sandboxed) {
      this.runnerPid = this.child.pid;
      this.memoryWatch = this.child.pid === undefined ? undefined : watch(this.child.pid);
    } else {
      findSandboxedRunner(this.child.stdio[SANDBOX_INFO_FD] as Readable, () => this.exited, (pid) => {
        this.runnerPid = pid;
        this.memoryWatch = watch(pid);
      });
    }
    this.output = new RunnerOutput(options.output);
    this.output.read(this.child.stdout!, 'stdout');
    this.output.read(this.child.stderr!, 'stderr');
    this.child.on('message', (message: RunnerToHost) => options.onMessage(message));
    this.child.once('exit', (exitCode, exitSignal) => {
      this.exited = true;
      running.delete(this);
      this.memoryWatch?.stop();
      this.markExited();
      const { code, signal } = this.sandboxed ? signalOfSandboxExit(exitCode, exitSignal) : { code: exitCode, signal: exitSignal };
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

/**
 * bwrap exits with 128 + the signal number when its child was killed by a signal; the crash record
 * names the signal, as for an unconfined runner. (A module that calls exit(139) reads as SIGSEGV.)
 */
function signalOfSandboxExit(code: number | null, signal: NodeJS.Signals | null): { code: number | null; signal: NodeJS.Signals | null } {
  if (signal !== null || code === null || code <= 128) return { code, signal };
  const name = Object.entries(os.constants.signals).find(([, number]) => number === code - 128)?.[0];
  return name === undefined ? { code, signal } : { code: null, signal: name as NodeJS.Signals };
}

/** How long bwrap's init may take to start the runner before the host gives up looking for it. */
const FIND_RUNNER_MS = 10_000;
const FIND_RUNNER_POLL_MS = 5;

/**
 * The runner's pid, outside the sandbox's PID namespace: bwrap writes the pid of its child, the
 * sandbox's init, on its info descriptor; the runner is that init's only child. Found through the
 * kernel's parent links (not a pid the runner reports), so code in the runner cannot point the memory
 * watcher at another process.
 */
function findSandboxedRunner(info: Readable, gone: () => boolean, found: (pid: number) => void): void {
  let text = '';
  let init: number | undefined;
  info.setEncoding('utf8');
  info.on('data', (chunk: string) => {
    if (init !== undefined) return;
    text += chunk;
    const match = /"child-pid"\s*:\s*(\d+)\D/.exec(text);
    if (match === null) return;
    init = Number(match[1]);
    const started = Date.now();
    const look = (): void => {
      if (gone()) return;
      const pid = childrenOf(init!)[0];
      if (pid !== undefined) return found(pid);
      if (Date.now() - started < FIND_RUNNER_MS) setTimeout(look, FIND_RUNNER_POLL_MS).unref();
    };
    look();
  });
  info.on('error', () => {
    // bwrap failed before it could report; its exit says why.
  });
}
