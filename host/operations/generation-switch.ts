import type { ModuleDispatcher } from '../http/module-dispatcher';
import type { EventBus } from '../loader/event-bus';
import { cleanupQuietly } from '../loader/load-module';
import type { Logger } from '../logger';
import type { RegistryWrites } from '../registry/plugin-repository';
import type { ModuleGeneration } from '../runtime/module-generation';
import type { ModuleSlot } from '../runtime/module-slot';

export interface GenerationSwitchOptions {
  readonly dispatcher: ModuleDispatcher;
  readonly bus: EventBus;
  readonly logger: Logger;
  /** How long a replaced generation may keep serving its in-flight requests before cleanup anyway. */
  readonly drainTimeoutMs: number;
  /** Writes registry rows when the registry can take them, logging (not throwing) when it cannot. */
  readonly recordQuietly: (code: string, write: (writes: RegistryWrites) => void) => Promise<void>;
}

/**
 * How a running module changes generation, once the registry says it does (or never, for a discard):
 * the new one swapped in with one assignment, the old one retired when its requests finished, one
 * loaded for an action that did not happen unloaded.
 */
export class GenerationSwitch {
  constructor(private readonly options: GenerationSwitchOptions) {}

  /** One assignment for requests, one flag each for events; the router is rebuilt only when routes changed. */
  swapIn(slot: ModuleSlot, next: ModuleGeneration): void {
    const previous = slot.generation;
    const routesChanged = previous === undefined || routeSignature(previous) !== routeSignature(next);
    slot.generation = next;
    if (routesChanged) this.options.dispatcher.rebuildRoutes();
    next.subscriptions.live = slot.state === 'active';
    this.options.bus.settleSubscriptions(next.subscriptions);
    if (previous !== undefined) previous.subscriptions.live = false;
    slot.residentImages.add(next.shadowPath);
  }

  /** A generation that was loaded but never swapped in: stop it and close its database. */
  async discard(generation: ModuleGeneration): Promise<void> {
    this.options.bus.unsubscribe(generation.subscriptions);
    await cleanupQuietly(generation.handler, this.options.logger.child({ module: generation.loaded.manifest.code, generation: generation.number }));
    generation.closeDatabase();
  }

  /** Waits for the old generation's requests (bounded), then cleans it up and closes its database. */
  async retire(old: ModuleGeneration): Promise<void> {
    const deadline = Date.now() + this.options.drainTimeoutMs;
    while (old.inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    this.options.bus.unsubscribe(old.subscriptions);
    await cleanupQuietly(old.handler, this.options.logger.child({ module: old.loaded.manifest.code, generation: old.number }));
    old.closeDatabase();
    const code = old.loaded.manifest.code;
    await this.options.recordQuietly(code, (writes) => writes.recordEvent(code, 'unloaded', { generation: old.number, version: old.loaded.manifest.version, unfinished: old.inFlight }));
  }
}

function routeSignature(generation: ModuleGeneration): string {
  return [...generation.routes.keys()].sort().join('\n');
}
