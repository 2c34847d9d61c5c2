import { Worker } from 'node:worker_threads';

/** docs/isolation.md "Runners die with the host": the measured cost of this interval. */
export const WATCHDOG_INTERVAL_MS = 100;

/**
 * Kills this process once its parent (the host) is gone: a worker thread polls the parent pid, which
 * the kernel changes when the parent dies, and SIGKILLs the process from there — which works while the
 * main thread is stuck in native code and cannot see its IPC channel close. The fallback where
 * `setpriv --pdeathsig` is not available (runner-command.ts). `onError` hears when the thread could
 * not start (a very low memory ceiling): the runner then serves unwatched rather than not at all.
 */
export function startParentWatchdog(hostPid: number, onError: (error: Error) => void): void {
  const source = `
    const { workerData } = require('node:worker_threads');
    setInterval(() => {
      if (process.ppid !== workerData.hostPid) process.kill(process.pid, 'SIGKILL');
    }, workerData.intervalMs);
  `;
  const worker = new Worker(source, {
    eval: true,
    workerData: { hostPid, intervalMs: WATCHDOG_INTERVAL_MS },
    // The thread only polls; a smaller ceiling than this failed to start it (ERR_WORKER_OUT_OF_MEMORY).
    resourceLimits: { maxOldGenerationSizeMb: 16 },
    stdout: false,
    stderr: false,
  });
  worker.on('error', onError);
  // It watches; it does not keep the process alive.
  worker.unref();
}
