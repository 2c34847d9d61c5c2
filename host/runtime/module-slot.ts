import type { ModuleGeneration } from './module-generation';
import { ModuleMetrics } from './module-metrics';

export type SlotState = 'active' | 'disabled';

/**
 * The dispatcher's view of one module code. Reload and toggle change a slot by assigning `generation` or
 * `state`: one assignment, so a request sees either the old or the new table, never a mix.
 */
export class ModuleSlot {
  state: SlotState = 'active';
  generation: ModuleGeneration | undefined;
  /**
   * Why the module was left unloaded on purpose at boot (its feature flag is off): it is then `off` in
   * health rather than a module that should serve and does not. A generation swapped in later wins.
   */
  switchedOff: string | undefined;
  /**
   * Why the module is off on purpose now — its feature flag, at boot, with nothing loaded since — given
   * the registry's status for it (a reload that failed since makes it `failed`, a fault again); undefined otherwise.
   */
  offBecause(status: string): string | undefined {
    return this.generation === undefined && status === 'inactive' ? this.switchedOff : undefined;
  }

  /** Shadow paths this process has dlopened for the module: native images are never unmapped. */
  readonly residentImages = new Set<string>();
  /** Kept across generations: a reload does not reset a module's request history. */
  readonly metrics = new ModuleMetrics();

  constructor(readonly code: string) {}
}

/** Every module the dispatcher can route to, by code. */
export class ModuleTable {
  readonly slots = new Map<string, ModuleSlot>();

  slot(code: string): ModuleSlot {
    let slot = this.slots.get(code);
    if (slot === undefined) {
      slot = new ModuleSlot(code);
      this.slots.set(code, slot);
    }
    return slot;
  }

  /** Active generations in load order (Map keeps insertion order). */
  generations(): ModuleGeneration[] {
    return [...this.slots.values()].flatMap((slot) => (slot.generation === undefined ? [] : [slot.generation]));
  }
}
