import { ERROR_DEFINITIONS, ErpmodError, messageOf, type ErrorCode } from '../errors';
import type { ModuleOperator } from '../operations/module-operator';
import type { PluginRepository } from '../registry/plugin-repository';
import { isMessage, type ApplyMessage, type OperatedMessage, type OperatorAction, type WorkerResult } from './operator-messages';

/** What the operator routes call; the ModuleOperator in one process, this class in a cluster worker. */
export interface OperatorActions {
  reload(code: string): Promise<object>;
  enable(code: string): Promise<object>;
  disable(code: string): Promise<object>;
  toggle(code: string): Promise<object>;
}

const ANSWER_TIMEOUT_MS = 120_000;

/**
 * A cluster worker's operator: an action asked of this worker is applied by every worker (through the
 * primary), so a reload or a toggle changes what all of them serve, not only the one that took the
 * request. The reply is this worker's own result plus how many workers applied it; any worker's failure
 * fails the request, naming how many failed.
 */
export class FanOutOperator implements OperatorActions {
  private readonly waiting = new Map<string, (results: readonly WorkerResult[]) => void>();
  private next = 0;

  constructor(private readonly local: ModuleOperator, private readonly registry: PluginRepository) {
    process.on('message', (message: unknown) => {
      if (isMessage<ApplyMessage>(message, 'erpmod:apply')) void this.apply(message);
      else if (isMessage<OperatedMessage>(message, 'erpmod:operated')) this.waiting.get(message.id)?.(message.results);
    });
  }

  reload(code: string): Promise<object> {
    return this.everywhere('reload', code);
  }

  enable(code: string): Promise<object> {
    return this.everywhere('enable', code);
  }

  disable(code: string): Promise<object> {
    return this.everywhere('disable', code);
  }

  /** Flipped once, from the shared registry, then applied as enable or disable: toggling in each worker could disagree. */
  toggle(code: string): Promise<object> {
    return this.registry.isEnabled(code) ? this.disable(code) : this.enable(code);
  }

  private async apply(message: ApplyMessage): Promise<void> {
    let outcome: WorkerResult;
    try {
      const result = (await this.local[message.action](message.code)) as unknown as Record<string, unknown>;
      outcome = { pid: process.pid, ok: true, result };
    } catch (error) {
      outcome = { pid: process.pid, ok: false, code: error instanceof ErpmodError ? error.code : 'ERPMOD_INTERNAL', message: messageOf(error) };
    }
    process.send?.({ t: 'erpmod:applied', id: message.id, outcome });
  }

  private async everywhere(action: OperatorAction, code: string): Promise<object> {
    const id = `${process.pid}-${++this.next}`;
    const results = await new Promise<readonly WorkerResult[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new ErpmodError('ERPMOD_INTERNAL', `the cluster did not answer ${action} of "${code}" within ${ANSWER_TIMEOUT_MS} ms`));
      }, ANSWER_TIMEOUT_MS);
      this.waiting.set(id, (answer) => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve(answer);
      });
      process.send?.({ t: 'erpmod:operate', id, action, code });
    });
    const failed = results.filter((result): result is Extract<WorkerResult, { ok: false }> => !result.ok);
    if (failed.length > 0) {
      const first = failed[0]!;
      const errorCode = (first.code in ERROR_DEFINITIONS ? first.code : 'ERPMOD_INTERNAL') as ErrorCode;
      throw new ErpmodError(errorCode, `${first.message} (${failed.length} of ${results.length} workers failed)`, { details: { workers: results } });
    }
    const own = results.find((result) => result.pid === process.pid) ?? results[0];
    return { ...(own !== undefined && own.ok ? own.result : {}), workers: results.length };
  }
}
