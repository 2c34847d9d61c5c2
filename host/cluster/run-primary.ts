import cluster, { type Worker } from 'node:cluster';
import { messageOf } from '../errors';
import type { Logger } from '../logger';
import { isMessage, type AppliedMessage, type OperateMessage, type WorkerResult } from './operator-messages';

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
 * The primary of `erpmod serve --workers N`: keeps N workers serving one port. SIGHUP rolls them one at
 * a time (a new worker boots and reports ready before an old one drains and exits), a crashed worker is
 * replaced with exponential backoff, SIGTERM/SIGINT drain them all. Resolves with the exit code.
 */
export function runPrimary(options: PrimaryOptions): Promise<number> {
  const { logger } = options;
  const serving = new Set<Worker>();
  const retiring = new Set<Worker>();
  let stopping = false;
  let rolling = false;
  let backoffMs = BACKOFF_MIN_MS;
  let resolveExit: (code: number) => void = () => {};
  const exited = new Promise<number>((resolve) => {
    resolveExit = resolve;
  });

  /** Forks a worker and resolves once it reports ready; rejects when it exits or times out first. */
  const startWorker = (): Promise<Worker> =>
    new Promise((resolve, reject) => {
      const worker = cluster.fork();
      const bornAt = Date.now();
      const timer = setTimeout(() => {
        worker.process.kill('SIGKILL');
        reject(new Error(`worker ${worker.process.pid} did not report ready within ${options.bootTimeoutMs} ms`));
      }, options.bootTimeoutMs);
      worker.on('message', (message: unknown) => {
        if (isMessage<OperateMessage>(message, 'erpmod:operate')) return void fanOut(worker, message);
        if (isMessage<AppliedMessage>(message, 'erpmod:applied')) return applied.get(message.id)?.(message.outcome);
        if (message !== READY_MESSAGE) return;
        clearTimeout(timer);
        serving.add(worker);
        resolve(worker);
      });
      worker.once('exit', (code, signal) => {
        clearTimeout(timer);
        const wasServing = serving.delete(worker);
        if (retiring.delete(worker)) return;
        if (!wasServing) return reject(new Error(`worker ${worker.process.pid} exited with ${signal ?? code} before it was ready`));
        if (stopping) return;
        logger.error({ worker: worker.process.pid, code, signal }, 'worker died; replacing it');
        if (Date.now() - bornAt > STABLE_AFTER_MS) backoffMs = BACKOFF_MIN_MS;
        const delay = backoffMs;
        backoffMs = Math.min(backoffMs * 2, BACKOFF_MAX_MS);
        setTimeout(() => {
          if (!stopping) startWorker().catch((error: unknown) => logger.error({ err: messageOf(error) }, 'replacement worker failed to start'));
        }, delay);
      });
    });

  /** Has every serving worker apply an operator action, then answers the worker that asked. */
  const applied = new Map<string, (outcome: WorkerResult) => void>();
  const fanOut = async (origin: Worker, message: OperateMessage): Promise<void> => {
    const targets = serving.has(origin) ? [...serving] : [...serving, origin];
    const results: WorkerResult[] = [];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, options.bootTimeoutMs);
      applied.set(message.id, (outcome) => {
        results.push(outcome);
        if (results.length === targets.length) {
          clearTimeout(timer);
          resolve();
        }
      });
      for (const worker of targets) worker.send({ t: 'erpmod:apply', id: message.id, action: message.action, code: message.code });
    });
    applied.delete(message.id);
    logger.info({ action: message.action, module: message.code, workers: targets.length, failed: results.filter((r) => !r.ok).length }, `${message.action} of ${message.code} applied by the workers`);
    if (!origin.isDead()) origin.send({ t: 'erpmod:operated', id: message.id, results });
  };

  const retire = (worker: Worker): Promise<void> =>
    new Promise((resolve) => {
      serving.delete(worker);
      retiring.add(worker);
      const timer = setTimeout(() => worker.process.kill('SIGKILL'), options.drainTimeoutMs + 5000);
      worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
      worker.process.kill('SIGTERM');
    });

  const roll = async (): Promise<void> => {
    if (rolling || stopping) return;
    rolling = true;
    const old = [...serving];
    logger.info({ workers: old.length }, 'SIGHUP: rolling workers one at a time');
    try {
      for (const worker of old) {
        const fresh = await startWorker();
        logger.info({ started: fresh.process.pid, retiring: worker.process.pid }, 'new worker ready; draining an old one');
        await retire(worker);
      }
      logger.info({ workers: serving.size }, 'rolling restart complete');
    } catch (error) {
      logger.error({ err: messageOf(error) }, 'rolling restart stopped: a new worker did not become ready; the remaining old workers keep serving');
    } finally {
      rolling = false;
    }
  };

  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, workers: serving.size }, 'stopping: draining every worker');
    await Promise.all([...serving, ...retiring].map((worker) => retire(worker)));
    logger.info('all workers stopped');
    resolveExit(0);
  };

  process.on('SIGHUP', () => void roll());
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  void (async () => {
    try {
      // One at a time: concurrent first boots would all migrate the same databases at once.
      for (let i = 0; i < options.workers; i++) await startWorker();
      logger.info({ workers: serving.size, pids: [...serving].map((worker) => worker.process.pid) }, `erpmod primary: ${serving.size} workers listening`);
    } catch (error) {
      logger.fatal({ err: messageOf(error) }, 'a worker failed to boot; stopping');
      stopping = true;
      for (const worker of serving) worker.process.kill('SIGTERM');
      resolveExit(1);
    }
  })();
  return exited;
}
