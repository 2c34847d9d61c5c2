import path from 'node:path';
import { findExecutable } from '../find-executable';

/** How a runner learns that the host is gone when the host cannot tell it (SIGKILL, a crash). */
export type ParentDeath = 'pdeathsig' | 'watchdog';

export interface RunnerCommand {
  readonly file: string;
  readonly args: readonly string[];
  readonly parentDeath: ParentDeath;
  /** True when the runner starts inside bubblewrap (runner-sandbox.ts): the spawned process is bwrap. */
  readonly sandboxed: boolean;
}

/** The descriptor bwrap reports its child's pid on (the child's stdio slot after the IPC channel). */
export const SANDBOX_INFO_FD = 4;

const RUNNER = path.join(__dirname, 'module-runner.js');

/**
 * V8's old-generation limit for a runner with a ceiling of `memoryMb`: half of it, so V8 collects its
 * garbage well before the process nears the ceiling, and a JavaScript heap that keeps growing ends in
 * V8's own "heap out of memory" (with that message in the crash record's last lines) rather than in the
 * host's SIGKILL. The other half is for native memory, code and V8's young generation.
 */
export function heapLimitMb(memoryMb: number): number {
  return Math.max(16, Math.floor(memoryMb / 2));
}

/**
 * The command that starts a runner. The memory ceiling is not set here: the host watches the runner's
 * resident size (watch-memory-ceiling.ts), which V8's address-space reservations do not count against
 * (an RLIMIT_DATA did: Node 24 cannot start under 512 MB of it); V8's heap limit is. On Linux with
 * util-linux's setpriv on the PATH, the exec goes through `setpriv --pdeathsig KILL`: the kernel SIGKILLs
 * the runner the moment the host's main thread (which spawned it) ends, however it ends, even while the
 * runner's own thread is stuck in native code. Elsewhere the runner watches its parent pid from a worker
 * thread (module-runner.ts). The IPC channel survives the exec.
 */
export function runnerCommand(memoryMb: number, hostEnv: NodeJS.ProcessEnv, sandbox?: { readonly bwrap: string; readonly args: readonly string[] }): RunnerCommand {
  const setpriv = process.platform === 'linux' ? findExecutable('setpriv', hostEnv.PATH) : undefined;
  const parentDeath: ParentDeath = setpriv === undefined ? 'watchdog' : 'pdeathsig';
  // Inside bwrap the sandbox's own init is the runner's parent: the chain setpriv (bwrap dies with the
  // host) → --die-with-parent (bwrap's init dies with bwrap) → PID namespace (the runner dies with its
  // init) replaces the runner's own check of its parent. runner-sandbox.ts only offers a sandbox with setpriv.
  const sandboxed = sandbox !== undefined && setpriv !== undefined;
  const node = [
    process.execPath,
    `--max-old-space-size=${heapLimitMb(memoryMb)}`,
    RUNNER,
    '--host-pid',
    String(process.pid),
    ...(parentDeath === 'watchdog' ? ['--watchdog'] : []),
    ...(sandboxed ? ['--sandboxed'] : []),
  ];
  const wrapped = sandboxed ? [sandbox.bwrap, ...sandbox.args, '--', ...node] : node;
  const [file, ...args] = setpriv === undefined ? wrapped : [setpriv, '--pdeathsig', 'KILL', ...wrapped];
  return { file: file!, args, parentDeath, sandboxed };
}
