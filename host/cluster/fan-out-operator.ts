import { ERROR_DEFINITIONS, ErpmodError, messageOf, type ErrorCode } from '../errors';
import type { ModuleOperator } from '../operations/module-operator';
import type { StagedOperation } from '../operations/staged-operation';
import type { PluginRepository } from '../registry/plugin-repository';
import { isMessage, type ApplyMessage, type OperatedMessage, type OperatorAction, type WorkerResult } from './operator-messages';

/** What the operator routes call; the ModuleOperator in one process, this class in a cluster worker. */
export interface OperatorActions {
  reload(code: string): Promise<object>;
  enable(code: string): Promise<object>;
  disable(code: string): Promise<object>;
  toggle(code: string): Promise<object>;
}

/** How long the worker that took the request waits for the whole cluster (two phases, each bounded by the primary). */
const ANSWER_TIMEOUT_MS = 150_000;
/**
 * How long a staged action holds its module here when no decision comes (the primary decides within one
 * phase's bound, 60 s): then it is cancelled, so the module is not held for good.
 */
const STAGED_HOLD_MS = 120_000;

/**
 * A cluster worker's operator: an action asked of this worker is applied by every worker (through the
 * primary, two phases: operator-messages.ts), so a reload or a toggle changes what all of them serve,
 * not only the one that took the request, and a build one worker cannot load changes none. The reply is
 * this worker's own result plus how many workers applied it; any worker's failure fails the request,
 * naming how many failed and whether the others switched.
 */
export class FanOutOperator implements OperatorActions {
  private readonly waiting = new Map<string, (answer: OperatedMessage) => void>();
  private next = 0;
  /** Actions staged here, waiting for the primary's apply or cancel. */
  private readonly staged = new Map<string, { readonly operation: StagedOperation<object>; readonly expires: NodeJS.Timeout }>();
  /** Actions the primary cancelled before they finished staging here: cancelled as soon as they do. */
  private readonly cancelledEarly = new Set<string>();

  constructor(private readonly local: ModuleOperator, private readonly registry: PluginRepository) {
    process.on('message', (message: unknown) => {
      if (isMessage<ApplyMessage>(message, 'erpmod:apply')) void this.apply(message);
      else if (isMessage<OperatedMessage>(message, 'erpmod:operated')) this.waiting.get(message.id)?.(message);
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
      outcome = { pid: process.pid, ok: true, result: await this.step(message) };
    } catch (error) {
      outcome = { pid: process.pid, ok: false, code: error instanceof ErpmodError ? error.code : 'ERPMOD_INTERNAL', message: messageOf(error) };
    }
    process.send?.({ t: 'erpmod:applied', id: message.id, phase: message.phase, outcome });
  }

  private async step({ id, phase, action, code }: ApplyMessage): Promise<Record<string, unknown>> {
    if (phase === 'stage') {
      let cancelledMeanwhile = false;
      const operation = await this.local.stage(action, code).finally(() => (cancelledMeanwhile = this.cancelledEarly.delete(id)));
      if (cancelledMeanwhile) {
        await operation.cancel();
        return { cancelled: true };
      }
      // Its failure to unload is the generation's cleanup's, which logs it.
      const expires = setTimeout(() => void this.take(id)?.cancel().catch(() => undefined), STAGED_HOLD_MS).unref();
      this.staged.set(id, { operation, expires });
      return { staged: true };
    }
    const operation = this.take(id);
    if (phase === 'cancel') {
      if (operation === undefined) this.cancelledEarly.add(id);
      else await operation.cancel();
      return { cancelled: true };
    }
    if (operation === undefined) throw new ErpmodError('ERPMOD_INTERNAL', `the ${action} of module "${code}" is no longer staged in worker ${process.pid} (it waited longer than ${STAGED_HOLD_MS} ms)`);
    return (await operation.apply()) as unknown as Record<string, unknown>;
  }

  /** The staged action `id`, removed from those waiting. */
  private take(id: string): StagedOperation<object> | undefined {
    const entry = this.staged.get(id);
    if (entry === undefined) return undefined;
    this.staged.delete(id);
    clearTimeout(entry.expires);
    return entry.operation;
  }

  private async everywhere(action: OperatorAction, code: string): Promise<object> {
    const id = `${process.pid}-${++this.next}`;
    const { results, cancelled } = await new Promise<OperatedMessage>((resolve, reject) => {
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
      const outcome = cancelled
        ? `${failed.length} of ${results.length} workers could not, so none did: every worker serves what it served before`
        : `${failed.length} of ${results.length} workers failed after the others had switched; try again, or roll the workers with SIGHUP`;
      throw new ErpmodError(errorCode, `${first.message} (${outcome})`, { details: { workers: results, switched: !cancelled } });
    }
    const own = results.find((result) => result.pid === process.pid) ?? results[0];
    return { ...(own !== undefined && own.ok ? own.result : {}), workers: results.length };
  }
}
