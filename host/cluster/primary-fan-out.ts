import type { Worker } from 'node:cluster';
import type { Logger } from '../logger';
import type { AppliedMessage, ApplyPhase, OperateMessage, WorkerResult } from './operator-messages';

export interface PrimaryFanOutOptions {
  /** The workers serving now: the ones an action must reach. */
  readonly serving: () => Worker[];
  readonly logger: Logger;
  /** How long each phase waits for a worker's answer. */
  readonly phaseTimeoutMs: number;
}

/** Answers to one phase, and the workers that gave none in time (they may still be working on it). */
interface PhaseAnswers {
  readonly results: Map<Worker, WorkerResult>;
  readonly unanswered: Set<Worker>;
}

/**
 * The primary's half of an operator action in a cluster (operator-messages.ts): every serving worker
 * stages it, then all apply it, or — when one could not stage it, did not answer, or exited — those
 * that staged it (or may still be staging it) cancel it and the asking worker is told none switched.
 */
export class PrimaryFanOut {
  private readonly waiting = new Map<string, (outcome: WorkerResult) => void>();

  constructor(private readonly options: PrimaryFanOutOptions) {}

  /** A worker's answer to a phase it was asked. */
  answered(message: AppliedMessage): void {
    this.waiting.get(`${message.id}/${message.phase}`)?.(message.outcome);
  }

  async operate(origin: Worker, message: OperateMessage): Promise<void> {
    const serving = this.options.serving();
    const targets = serving.includes(origin) ? serving : [...serving, origin];
    const staged = await this.ask(targets, message, 'stage');
    const ready = staged.results.size === targets.length && [...staged.results.values()].every((result) => result.ok);
    let results: WorkerResult[];
    if (ready) {
      const applied = await this.ask(targets, message, 'apply');
      results = targets.map((worker) => applied.results.get(worker) ?? noAnswer(worker, message, 'apply', this.options.phaseTimeoutMs));
    } else {
      // A worker that has not answered may still finish staging: it is told to cancel too.
      await this.ask(targets.filter((worker) => staged.unanswered.has(worker) || staged.results.get(worker)?.ok === true), message, 'cancel');
      results = targets.map((worker) => staged.results.get(worker) ?? noAnswer(worker, message, 'stage', this.options.phaseTimeoutMs));
    }
    const failed = results.filter((result) => !result.ok).length;
    this.options.logger.info(
      { action: message.action, module: message.code, workers: targets.length, failed, cancelled: !ready },
      ready ? `${message.action} of ${message.code} applied by the workers` : `${message.action} of ${message.code} cancelled: ${failed} of ${targets.length} workers could not do it, none switched`,
    );
    if (!origin.isDead()) origin.send({ t: 'erpmod:operated', id: message.id, results, cancelled: !ready });
  }

  /** Asks each of `workers` for one phase of the action and waits for their answers, each bounded. */
  private async ask(workers: readonly Worker[], message: OperateMessage, phase: ApplyPhase): Promise<PhaseAnswers> {
    const results = new Map<Worker, WorkerResult>();
    const unanswered = new Set(workers);
    const key = `${message.id}/${phase}`;
    const exitListeners = new Map<Worker, () => void>();
    await new Promise<void>((resolve) => {
      if (workers.length === 0) return resolve();
      const timer = setTimeout(resolve, this.options.phaseTimeoutMs);
      const record = (worker: Worker, outcome: WorkerResult): void => {
        if (!unanswered.delete(worker)) return;
        results.set(worker, outcome);
        if (unanswered.size === 0) {
          clearTimeout(timer);
          resolve();
        }
      };
      this.waiting.set(key, (outcome) => {
        const worker = workers.find((target) => target.process.pid === outcome.pid);
        if (worker !== undefined) record(worker, outcome);
      });
      for (const worker of workers) {
        // A worker that exits first (a stop, a crash) will never answer: count it as failed rather than wait.
        const onExit = (): void => record(worker, { pid: worker.process.pid ?? 0, ok: false, code: 'ERPMOD_INTERNAL', message: `worker ${worker.process.pid} exited before it could ${message.action} module "${message.code}"` });
        exitListeners.set(worker, onExit);
        worker.once('exit', onExit);
        worker.send({ t: 'erpmod:apply', id: message.id, action: message.action, code: message.code, phase });
      }
    });
    this.waiting.delete(key);
    for (const [worker, onExit] of exitListeners) worker.off('exit', onExit);
    return { results, unanswered };
  }
}

function noAnswer(worker: Worker, message: OperateMessage, phase: ApplyPhase, waitedMs: number): WorkerResult {
  const step = phase === 'stage' ? `load or check module "${message.code}" for ${message.action}` : `${message.action} module "${message.code}"`;
  return { pid: worker.process.pid ?? 0, ok: false, code: 'ERPMOD_INTERNAL', message: `worker ${worker.process.pid} did not ${step} within ${waitedMs} ms` };
}
