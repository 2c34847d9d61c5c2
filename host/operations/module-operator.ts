import { CODE_PATTERN } from '../compliance/manifest/manifest-schema';
import { readManifest } from '../compliance/manifest/read-manifest';
import type { LoadedManifest } from '../compliance/types';
import { migrationFiles } from '../compliance/manifest/list-migration-files';
import { ErpmodError, messageOf } from '../errors';
import type { ModuleDispatcher } from '../http/module-dispatcher';
import { checkModuleBinary } from '../loader/check-module-binary';
import { discoverModules } from '../loader/discover-modules';
import type { EventBus } from '../loader/event-bus';
import { loadGeneration, type GenerationSettings } from '../loader/load-generation';
import { cleanupQuietly } from '../loader/load-module';
import type { Logger } from '../logger';
import type { PluginRepository } from '../registry/plugin-repository';
import type { ModuleGeneration } from '../runtime/module-generation';
import type { ModuleSlot, ModuleTable } from '../runtime/module-slot';
import type { TrustPolicy } from '../vendor/trust-policy';

export interface ModuleOperatorOptions {
  readonly table: ModuleTable;
  readonly bus: EventBus;
  readonly registry: PluginRepository;
  readonly dispatcher: ModuleDispatcher;
  readonly dataDir: string;
  readonly logger: Logger;
  readonly env: NodeJS.ProcessEnv;
  /** How long a replaced generation may keep serving its in-flight requests before cleanup anyway. */
  readonly drainTimeoutMs: number;
  readonly generations: GenerationSettings;
  /** Where a reload looks for a module the host does not know yet. */
  readonly modulesDir: string;
  /** The signature policy, read afresh for each reload so a newly trusted key takes effect. */
  readonly trustPolicy: () => TrustPolicy;
}

export interface ReloadResult {
  readonly code: string;
  readonly generation: number;
  readonly version: string;
  readonly previousVersion: string | null;
  readonly sha256: string;
  readonly loadMs: number;
  readonly residentImages: number;
}

/**
 * What an operator does to a running module: reload it from disk, enable or disable it. One operation
 * per module at a time; each one leaves the module either as it was or fully switched, never between.
 */
export class ModuleOperator {
  private readonly busy = new Set<string>();

  constructor(private readonly options: ModuleOperatorOptions) {}

  /**
   * Re-reads module.yml, re-runs the static checks, loads the binary from its (new) shadow path,
   * initialises the new generation, swaps it in with one assignment, then lets the old generation finish
   * its requests and cleans it up. On any failure the old generation keeps serving.
   */
  reload(code: string): Promise<ReloadResult> {
    return this.exclusive(code, async () => {
      const { registry, logger } = this.options;
      const { slot, moduleDir } = this.slotToReload(code);
      const previous = slot.generation;
      let next: ModuleGeneration;
      try {
        next = await this.loadGeneration(slot, moduleDir, (previous?.number ?? 0) + 1);
      } catch (error) {
        const reason = messageOf(error);
        registry.recordEvent(code, 'failed', { operation: 'reload', reason, stillServing: previous?.loaded.manifest.version ?? null });
        if (previous === undefined) registry.setStatus(code, 'failed', reason);
        logger.error({ module: code, reason }, `reload of ${code} failed; ${previous === undefined ? 'nothing was serving' : 'the previous generation keeps serving'}`);
        throw new ErpmodError('ERPMOD_RELOAD_FAILED', `reload of module "${code}" failed: ${reason}`, { cause: error });
      }
      this.swapIn(slot, next);
      registry.recordEvent(code, 'reloaded', {
        generation: next.number,
        from: previous?.loaded.manifest.version ?? null,
        to: next.loaded.manifest.version,
        sha256: next.sha256,
        loadMs: next.loadMs,
      });
      logger.info({ module: code, generation: next.number, version: next.loaded.manifest.version, loadMs: next.loadMs }, `module ${code} reloaded`);
      if (previous !== undefined) void this.retire(previous);
      return {
        code,
        generation: next.number,
        version: next.loaded.manifest.version,
        previousVersion: previous?.loaded.manifest.version ?? null,
        sha256: next.sha256,
        loadMs: next.loadMs,
        residentImages: slot.residentImages.size,
      };
    });
  }

  /** Disables a module: its routes answer 503 and it hears no events. Refused while active modules depend on it. */
  disable(code: string): Promise<{ code: string; enabled: false }> {
    return this.exclusive(code, async () => {
      const slot = this.knownSlot(code);
      const dependents = this.activeDependents(code);
      if (dependents.length > 0) {
        throw new ErpmodError(
          'ERPMOD_OPERATION_CONFLICT',
          `module "${code}" cannot be disabled while ${dependents.map((d) => `"${d}"`).join(', ')} depend${dependents.length === 1 ? 's' : ''} on it; disable ${dependents.length === 1 ? 'it' : 'them'} first`,
          { details: { dependents } },
        );
      }
      slot.state = 'disabled';
      if (slot.generation !== undefined) slot.generation.subscriptions.live = false;
      this.options.registry.setEnabled(code, false);
      this.options.registry.setStatus(code, 'inactive', 'disabled by an operator');
      this.options.registry.recordEvent(code, 'toggled', { enabled: false });
      this.options.logger.info({ module: code }, `module ${code} disabled`);
      return { code, enabled: false as const };
    });
  }

  /** Enables a module, loading it first when it was never loaded in this process. */
  enable(code: string): Promise<{ code: string; enabled: true }> {
    return this.exclusive(code, async () => {
      const { registry } = this.options;
      const slot = this.knownSlot(code);
      const record = registry.find(code)!;
      registry.setEnabled(code, true);
      if (slot.generation === undefined) {
        try {
          this.swapIn(slot, await this.loadGeneration(slot, record.moduleDir, 1));
        } catch (error) {
          registry.setStatus(code, 'failed', messageOf(error));
          registry.recordEvent(code, 'toggled', { enabled: true, loaded: false, reason: messageOf(error) });
          throw new ErpmodError('ERPMOD_RELOAD_FAILED', `module "${code}" is enabled but could not be loaded: ${messageOf(error)}`, { cause: error });
        }
      }
      slot.state = 'active';
      slot.generation!.subscriptions.live = true;
      registry.setStatus(code, 'active');
      registry.recordEvent(code, 'toggled', { enabled: true });
      this.options.logger.info({ module: code }, `module ${code} enabled`);
      return { code, enabled: true as const };
    });
  }

  toggle(code: string): Promise<{ code: string; enabled: boolean }> {
    this.knownSlot(code);
    return this.options.registry.isEnabled(code) ? this.disable(code) : this.enable(code);
  }

  private async loadGeneration(slot: ModuleSlot, moduleDir: string, number: number): Promise<ModuleGeneration> {
    const { registry, dataDir, logger, bus, env } = this.options;
    const loaded = readManifest(moduleDir);
    const { manifest } = loaded;
    if (manifest.code !== slot.code) {
      throw new ErpmodError('ERPMOD_MANIFEST_INVALID', `${loaded.manifestPath} now declares code "${manifest.code}"; a reload cannot rename module "${slot.code}"`);
    }
    const inactive = manifest.dependencies.filter((dependency) => !this.isServing(dependency));
    if (inactive.length > 0) {
      throw new ErpmodError('ERPMOD_OPERATION_CONFLICT', `module "${slot.code}" depends on ${inactive.map((d) => `"${d}"`).join(', ')}, which ${inactive.length === 1 ? 'is' : 'are'} not active`);
    }
    const checked = checkModuleBinary(loaded, dataDir, this.options.trustPolicy());
    if (!checked.ok) throw new ErpmodError('ERPMOD_RELOAD_FAILED', `the new build is not compliant: ${checked.reason}`, { details: { violations: checked.report.violations } });
    const generation = await loadGeneration({
      loaded,
      shadowPath: checked.shadowPath,
      sha256: checked.sha256,
      migrations: migrationFiles(loaded, this.options.generations.store?.engine),
      dataDir,
      logger: logger.child({ module: slot.code, version: manifest.version }),
      bus,
      env,
      generationNumber: number,
    }, this.options.generations);
    registry.recordIdentity({ ...manifest, moduleDir });
    registry.recordBinary(slot.code, checked.binary);
    registry.replaceEndpoints(slot.code, manifest.routes);
    return generation;
  }

  /** The swap: one assignment for requests, one flag each for events; the router is rebuilt only when routes changed. */
  private swapIn(slot: ModuleSlot, next: ModuleGeneration): void {
    const previous = slot.generation;
    const routesChanged = previous === undefined || routeSignature(previous) !== routeSignature(next);
    slot.generation = next;
    if (routesChanged) this.options.dispatcher.rebuildRoutes();
    next.subscriptions.live = slot.state === 'active';
    if (previous !== undefined) previous.subscriptions.live = false;
    slot.residentImages.add(next.shadowPath);
    this.options.registry.setStatus(slot.code, slot.state === 'active' ? 'active' : 'inactive', slot.state === 'active' ? null : 'disabled by an operator');
  }

  /** Waits for the old generation's requests (bounded), then cleans it up and closes its database. */
  private async retire(old: ModuleGeneration): Promise<void> {
    const deadline = Date.now() + this.options.drainTimeoutMs;
    while (old.inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    this.options.bus.unsubscribe(old.subscriptions);
    await cleanupQuietly(old.handler, this.options.logger.child({ module: old.loaded.manifest.code, generation: old.number }));
    old.closeDatabase();
    this.options.registry.recordEvent(old.loaded.manifest.code, 'unloaded', { generation: old.number, version: old.loaded.manifest.version, unfinished: old.inFlight });
  }

  /**
   * The slot to reload and where its module lives. A code the host does not know yet is looked for in
   * the modules directory: an operator who drops a new module there (or `erpmod install`s one) can load
   * it with a reload, without restarting the host.
   */
  private slotToReload(code: string): { slot: ModuleSlot; moduleDir: string } {
    const slot = this.options.table.slots.get(code);
    const record = this.options.registry.find(code);
    if (slot !== undefined && record !== undefined) return { slot, moduleDir: record.moduleDir };
    const found = CODE_PATTERN.test(code) ? this.findModule(code) : undefined;
    if (found === undefined) {
      throw new ErpmodError('ERPMOD_NOT_FOUND', `no module with code "${code}": the host does not know it, and no directory under ${this.options.modulesDir} declares it`);
    }
    this.options.registry.recordIdentity({ ...found.manifest, moduleDir: found.moduleDir });
    this.options.registry.recordEvent(code, 'discovered', { moduleDir: found.moduleDir, operation: 'reload' });
    this.options.logger.info({ module: code, moduleDir: found.moduleDir }, `module ${code} discovered by a reload`);
    return { slot: this.options.table.slot(code), moduleDir: found.moduleDir };
  }

  /** The module in the modules directory whose valid module.yml declares `code`, found the way boot finds them. */
  private findModule(code: string): LoadedManifest | undefined {
    let discovered;
    try {
      discovered = discoverModules(this.options.modulesDir, this.options.logger);
    } catch {
      return undefined;
    }
    for (const found of discovered) if (found.ok && found.loaded.manifest.code === code) return found.loaded;
    return undefined;
  }

  private knownSlot(code: string): ModuleSlot {
    const slot = this.options.table.slots.get(code);
    if (slot === undefined || this.options.registry.find(code) === undefined) {
      throw new ErpmodError('ERPMOD_NOT_FOUND', `no module with code "${code}"; GET /plugins lists the known ones`);
    }
    return slot;
  }

  private isServing(code: string): boolean {
    const slot = this.options.table.slots.get(code);
    return slot !== undefined && slot.state === 'active' && slot.generation !== undefined;
  }

  private activeDependents(code: string): string[] {
    return [...this.options.table.slots.values()]
      .filter((slot) => slot.state === 'active' && slot.generation?.loaded.manifest.dependencies.includes(code))
      .map((slot) => slot.code);
  }

  private async exclusive<T>(code: string, operation: () => Promise<T>): Promise<T> {
    if (this.busy.has(code)) throw new ErpmodError('ERPMOD_OPERATION_CONFLICT', `another operation on module "${code}" is still running; try again when it has finished`);
    this.busy.add(code);
    try {
      return await operation();
    } finally {
      this.busy.delete(code);
    }
  }
}


function routeSignature(generation: ModuleGeneration): string {
  return [...generation.routes.keys()].sort().join('\n');
}
