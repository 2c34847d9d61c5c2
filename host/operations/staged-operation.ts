import { ErpmodError } from '../errors';

/**
 * An operation on a module checked and loaded, not yet switched (ModuleOperator.stage()): `apply()`
 * switches it, `cancel()` unloads what was loaded for it. One of the two, once.
 */
export interface StagedOperation<T> {
  apply(): Promise<T>;
  cancel(): Promise<void>;
}

/**
 * One operation per module at a time: a module is held from the start of an operation's staging until
 * it is applied or cancelled, and another operation on it meanwhile is refused rather than queued (an
 * operator retrying a reload should not find it ran twice).
 */
export class ModuleHolds {
  private readonly held = new Set<string>();

  /** Runs `prepare` with `code` held, and keeps it held until the staged operation is applied or cancelled. */
  async stage<T>(code: string, prepare: () => Promise<StagedOperation<T>>): Promise<StagedOperation<T>> {
    if (this.held.has(code)) throw new ErpmodError('ERPMOD_OPERATION_CONFLICT', `another operation on module "${code}" is still running; try again when it has finished`);
    this.held.add(code);
    let prepared: StagedOperation<T>;
    try {
      prepared = await prepare();
    } catch (error) {
      this.held.delete(code);
      throw error;
    }
    let settled = false;
    const settle = async <R>(step: () => Promise<R>): Promise<R> => {
      if (settled) throw new ErpmodError('ERPMOD_INTERNAL', `the staged operation on module "${code}" was already applied or cancelled`);
      settled = true;
      try {
        return await step();
      } finally {
        this.held.delete(code);
      }
    };
    return { apply: () => settle(prepared.apply), cancel: () => settle(prepared.cancel) };
  }
}
