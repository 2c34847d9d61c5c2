import cluster, { type Worker } from 'node:cluster';
import { EXIT_GRACE_MS } from '../cli/handle-stop-signals';
import { messageOf } from '../errors';
import type { Logger } from '../logger';
import { MetricsGatherer } from './cluster-metrics';
import { isMessage, type AppliedMessage, type OperateMessage } from './operator-messages';
import { PrimaryFanOut } from './primary-fan-out';

export interface PrimaryOptions {
  readonly workers: number;
  readonly logger: Logger;
  /** How long a retiring worker may drain before it is killed. */
  readonly drainTimeoutMs: number;
  /** How long a new worker may take to boot and report ready. */
  readonly bootTimeoutMs: number;
}

/** What a worker sends the primary once it listens. */
export const READY_MESSAGE = 'erpmod:ready';

const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 10_000;
/** A worker that ran this long resets the crash backoff. */
const STABLE_AFTER_MS = 30_000;
/**
 * How long after shutdown_timeout_ms a draining worker is killed: a little past the worker's own bound
 * (EXIT_GRACE_MS), which it may not be able to keep — Node waits for native work on the thread pool
 * before a process can exit.
 */
const KILL_AFTER_GRACE_MS = EXIT_GRACE_MS + 1000;
const KILLED_EXIT_WAIT_MS = 2000;

/**
 * The primary of `erpmod serve --workers N`: keeps N workers serving one port. SIGHUP rolls them one at
 * a time (a new worker boots and reports ready before an old one drains and exits), a crashed worker is
 * replaced with exponential backoff. SIGTERM/SIGINT, at any moment (during boot, a roll, a reload),
 * drain every worker alive, booting ones included, and nothing new is started after it; a worker still
 * running shutdown_timeout_ms plus a grace later is killed, and a second signal kills them all at once.
 * Resolves with the exit code once every worker has exited: 0, or 1 when one had to be killed or the
 * first boot failed.
 */
export function runPrimary(options: PrimaryOptions): Promise<number> {
  const { logger } = options;
  /** Every forked worker that has not exited yet, whatever it is doing. */
  const alive = new Set<Worker>();
  const serving = new Set<Worker>();
  const metrics = new MetricsGatherer(() => [...serving]);
  const fanOut = new PrimaryFanOut({ serving: () => [...serving], logger, phaseTimeoutMs: options.bootTimeoutMs });
  const retiring = new Set<Worker>();
  let stopping = false;
  let rolling = false;
  let backoffMs = BACKOFF_MIN_MS;
  let replacement: NodeJS.Timeout | undefined;
  let onAllExited: (() => void) | undefined;
  let resolveExit: (code: number) => void = () => {};
  const exited = new Promise<number>((resolve) => {
    resolveExit = resolve;
  });

  /** Forks a worker and resolves once it reports ready; rejects when it exits or times out first, or the cluster is stopping. */
  const startWorker = (): Promise<Worker> =>
    new Promise((resolve, reject) => {
      if (stopping) return reject(new Error('the cluster is stopping'));
      const worker = cluster.fork();
      alive.add(worker);
      const bornAt = Date.now();
      const timer = setTimeout(() => {
        worker.process.kill('SIGKILL');
        reject(new Error(`worker ${worker.process.pid} did not report ready within ${options.bootTimeoutMs} ms`));
      }, options.bootTimeoutMs);
      worker.on('message', (message: unknown) => {
        if (metrics.handle(worker, message)) return;
        if (isMessage<OperateMessage>(message, 'erpmod:operate')) return void fanOut.operate(worker, message);
        if (isMessage<AppliedMessage>(message, 'erpmod:applied')) return fanOut.answered(message);
        if (message !== READY_MESSAGE) return;
        clearTimeout(timer);
        serving.add(worker);
        resolve(worker);
      });
      worker.once('exit', (code, signal) => {
        clearTimeout(timer);
        alive.delete(worker);
        if (alive.size === 0) onAllExited?.();
        const wasServing = serving.delete(worker);
        if (retiring.delete(worker)) return;
        if (!wasServing) return reject(new Error(`worker ${worker.process.pid} exited with ${signal ?? code} before it was ready`));
        if (stopping) return;
        logger.error({ worker: worker.process.pid, code, signal }, 'worker died; replacing it');
        if (Date.now() - bornAt > STABLE_AFTER_MS) backoffMs = BACKOFF_MIN_MS;
        const delay = backoffMs;
        backoffMs = Math.min(backoffMs * 2, BACKOFF_MAX_MS);
        replacement = setTimeout(() => {
          if (!stopping) startWorker().catch((error: unknown) => logger.error({ err: messageOf(error) }, 'replacement worker failed to start'));
        }, delay);
      });
    });

  /**
   * Asks a worker to drain and exit, with SIGTERM: a worker only ever drains on it (see
   * handle-stop-signals.ts), so the same signal from the process group as well does no harm.
   */
  const askToDrain = (worker: Worker): void => {
    if (!worker.isDead()) worker.process.kill('SIGTERM');
  };

  const retire = (worker: Worker): Promise<void> =>
    new Promise((resolve) => {
      serving.delete(worker);
      retiring.add(worker);
      const timer = setTimeout(() => worker.process.kill('SIGKILL'), options.drainTimeoutMs + KILL_AFTER_GRACE_MS);
      worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      askToDrain(worker);
    });

  const roll = async (): Promise<void> => {
    if (rolling || stopping) return;
    rolling = true;
    const old = [...serving];
    logger.info({ workers: old.length }, 'SIGHUP: rolling workers one at a time');
    try {
      for (const worker of old) {
        const fresh = await startWorker();
        if (stopping) return;
        logger.info({ started: fresh.process.pid, retiring: worker.process.pid }, 'new worker ready; draining an old one');
        await retire(worker);
      }
      if (!stopping) logger.info({ workers: serving.size }, 'rolling restart complete');
    } catch (error) {
      if (stopping) logger.info('rolling restart abandoned: the cluster is stopping');
      else logger.error({ err: messageOf(error) }, 'rolling restart stopped: a new worker did not become ready; the remaining old workers keep serving');
    } finally {
      rolling = false;
    }
  };

  /** Drains every worker alive, kills what outlives the bound, resolves the exit once none is left. */
  let killed = false;
  const killAll = (): void => {
    killed = true;
    for (const worker of alive) worker.process.kill('SIGKILL');
    // A killed process is gone within milliseconds; should its exit never be reported, exit anyway.
    setTimeout(() => resolveExit(1), KILLED_EXIT_WAIT_MS);
  };
  const stop = (reason: string, code: number): void => {
    if (stopping) {
      if (killed) return;
      logger.warn({ signal: reason, workers: [...alive].map((worker) => worker.process.pid) }, 'second signal: killing every worker');
      return killAll();
    }
    stopping = true;
    clearTimeout(replacement);
    const boundMs = options.drainTimeoutMs + KILL_AFTER_GRACE_MS;
    logger.info({ signal: reason, workers: alive.size }, 'stopping: draining every worker');
    const killTimer = setTimeout(() => {
      logger.error({ workers: [...alive].map((worker) => worker.process.pid), boundMs }, `workers still running ${boundMs} ms after the stop; killing them`);
      killAll();
    }, boundMs);
    onAllExited = () => {
      clearTimeout(killTimer);
      logger.info({ killed }, killed ? 'all workers stopped (some were killed)' : 'all workers stopped');
      resolveExit(killed ? 1 : code);
    };
    if (alive.size === 0) return onAllExited();
    for (const worker of alive) askToDrain(worker);
  };

  process.on('SIGHUP', () => void roll());
  process.on('SIGTERM', () => stop('SIGTERM', 0));
  process.on('SIGINT', () => stop('SIGINT', 0));

  void (async () => {
    try {
      // One at a time: concurrent first boots would all migrate the same databases at once.
      for (let i = 0; i < options.workers; i++) await startWorker();
      logger.info({ workers: serving.size, pids: [...serving].map((worker) => worker.process.pid) }, `erpmod primary: ${serving.size} workers listening`);
    } catch (error) {
      if (stopping) return;
      logger.fatal({ err: messageOf(error) }, 'a worker failed to boot; stopping');
      stop('boot failed', 1);
    }
  })();
  return exited;
}
