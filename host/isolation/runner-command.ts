import path from 'node:path';
import { findExecutable } from '../find-executable';

/** How a runner learns that the host is gone when the host cannot tell it (SIGKILL, a crash). */
export type ParentDeath = 'pdeathsig' | 'watchdog';

export interface RunnerCommand {
  readonly file: string;
  readonly args: readonly string[];
  readonly parentDeath: ParentDeath;
}

const RUNNER = path.join(__dirname, 'module-runner.js');

/**
 * The command that starts a runner. `sh -c 'ulimit -d …; exec …'` puts the memory ceiling on what
 * native code mallocs, not only on V8's heap. On Linux with util-linux's setpriv on the PATH, the exec
 * goes through `setpriv --pdeathsig KILL`: the kernel SIGKILLs the runner the moment the host's main
 * thread (which spawned it) ends, however it ends, even while the runner's own thread is stuck in
 * native code. Elsewhere the runner watches its parent pid from a worker thread (module-runner.ts).
 * The IPC channel survives every exec.
 */
export function runnerCommand(memoryMb: number, hostEnv: NodeJS.ProcessEnv): RunnerCommand {
  const setpriv = process.platform === 'linux' ? findExecutable('setpriv', hostEnv.PATH) : undefined;
  const parentDeath: ParentDeath = setpriv === undefined ? 'watchdog' : 'pdeathsig';
  const node = [process.execPath, RUNNER, '--host-pid', String(process.pid), ...(parentDeath === 'watchdog' ? ['--watchdog'] : [])];
  const exec = setpriv === undefined ? node : [setpriv, '--pdeathsig', 'KILL', ...node];
  return { file: '/bin/sh', args: ['-c', `ulimit -d ${memoryMb * 1024} && exec "$0" "$@"`, ...exec], parentDeath };
}
