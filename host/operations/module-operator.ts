import { CODE_PATTERN } from '../compliance/manifest/manifest-schema';
import { readManifest } from '../compliance/manifest/read-manifest';
import type { LoadedManifest } from '../compliance/types';
import { migrationFiles } from '../compliance/manifest/list-migration-files';
import { ErpmodError, messageOf } from '../errors';
import type { ModuleDispatcher } from '../http/module-dispatcher';
import { checkModuleBinary } from '../loader/check-module-binary';
import { discoverModules } from '../loader/discover-modules';
import { guardModuleData } from '../store/sqlite/guard-module-data';
import type { EventBus } from '../loader/event-bus';
import { loadGeneration, type GenerationSettings } from '../loader/load-generation';
import type { Logger } from '../logger';
import type { PluginBinary, PluginRepository, RegistryWrites } from '../registry/plugin-repository';
import { storageErrorOf } from '../registry/storage-error';
import type { ModuleGeneration } from '../runtime/module-generation';
import type { ModuleSlot, ModuleTable } from '../runtime/module-slot';
import type { TrustPolicy } from '../packaging/trust-policy';
import { GenerationSwitch } from './generation-switch';
import { ModuleHolds, type StagedOperation } from './staged-operation';

export interface ModuleOperatorOptions {
  readonly table: ModuleTable;
  readonly bus: EventBus;
  readonly registry: PluginRepository;
  readonly dispatcher: ModuleDispatcher;
  readonly dataDir: string;
  readonly logger: Logger;
  readonly env: NodeJS.ProcessEnv;
  /** How long a replaced generation may keep serving its in-flight requests before cleanup anyway (GenerationSwitch). */
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
  private readonly holds = new ModuleHolds();
  private readonly generationSwitch: GenerationSwitch;

  constructor(private readonly options: ModuleOperatorOptions) {
    this.generationSwitch = new GenerationSwitch({ ...options, recordQuietly: (code, write) => this.recordQuietly(code, write) });
  }

  /**
   * Re-reads module.yml, re-runs the static checks, loads the binary from its (new) shadow path,
   * initialises the new generation, records it in the registry (one transaction), and only then swaps it in
   * with one assignment, lets the old generation finish its requests and cleans it up. On any failure,
   * including a registry that cannot be written, the new generation is discarded and the old one keeps serving.
   */
  async reload(code: string, expectSha256?: string): Promise<ReloadResult> {
    return (await this.stageReload(code, expectSha256)).apply();
  }

  /**
   * Every check and the load of the new generation, with the module held for this operation until it is
   * applied or cancelled: what stage() does for a reload.
   */
  private stageReload(code: string, expectSha256?: string): Promise<StagedOperation<ReloadResult>> {
    return this.holds.stage(code, async () => {
      const { logger } = this.options;
      const { slot, moduleDir } = await this.slotToReload(code);
      const previous = slot.generation;
      const keeps = previous === undefined ? 'nothing was serving' : 'the previous generation keeps serving';
      let next: LoadedGeneration;
      try {
        next = await this.loadGeneration(slot, moduleDir, (previous?.number ?? 0) + 1, expectSha256);
      } catch (error) {
        const reason = messageOf(error);
        await this.recordQuietly(code, (writes) => {
          writes.recordEvent(code, 'failed', { operation: 'reload', reason, stillServing: previous?.loaded.manifest.version ?? null });
          if (previous === undefined) writes.setStatus(code, 'failed', reason);
        });
        logger.error({ module: code, reason }, `reload of ${code} failed; ${keeps}`);
        throw this.storageFailure(error, `reload of module "${code}" failed; ${keeps}`) ??
          new ErpmodError('ERPMOD_RELOAD_FAILED', `reload of module "${code}" failed: ${reason}`, { cause: error });
      }
      const { generation } = next;
      return {
        apply: async () => {
          await this.commitOrDiscard(generation, `reload of module "${code}" failed; ${keeps}`, (writes) => {
            this.recordLoaded(writes, next, moduleDir);
            writes.setStatus(code, slot.state === 'active' ? 'active' : 'inactive', slot.state === 'active' ? null : 'disabled by an operator');
            writes.recordEvent(code, 'reloaded', {
              generation: generation.number,
              from: previous?.loaded.manifest.version ?? null,
              to: generation.loaded.manifest.version,
              sha256: generation.sha256,
              loadMs: generation.loadMs,
            });
          });
          this.generationSwitch.swapIn(slot, generation);
          logger.info({ module: code, generation: generation.number, version: generation.loaded.manifest.version, loadMs: generation.loadMs }, `module ${code} reloaded`);
          if (previous !== undefined) void this.generationSwitch.retire(previous);
          return {
            code,
            generation: generation.number,
            version: generation.loaded.manifest.version,
            previousVersion: previous?.loaded.manifest.version ?? null,
            sha256: generation.sha256,
            loadMs: generation.loadMs,
            residentImages: slot.residentImages.size,
          };
        },
        cancel: async () => {
          await this.generationSwitch.discard(generation);
          logger.info({ module: code, version: generation.loaded.manifest.version }, `reload of ${code} cancelled; ${keeps}`);
        },
      };
    });
  }

  /**
   * Disables a module: its routes answer 503 and it hears no events. Refused while active modules depend on
   * it. The registry is written first (one transaction); the running module is switched only once that
   * committed, so a write that fails (a full disk) leaves the module as it was.
   */
  async disable(code: string): Promise<{ code: string; enabled: false }> {
    return (await this.stageDisable(code)).apply();
  }

  private stageDisable(code: string): Promise<StagedOperation<{ code: string; enabled: false }>> {
    return this.holds.stage(code, async () => {
      const slot = this.knownSlot(code);
      const dependents = this.activeDependents(code);
      if (dependents.length > 0) {
        throw new ErpmodError(
          'ERPMOD_OPERATION_CONFLICT',
          `module "${code}" cannot be disabled while ${dependents.map((d) => `"${d}"`).join(', ')} depend${dependents.length === 1 ? 's' : ''} on it; disable ${dependents.length === 1 ? 'it' : 'them'} first`,
          { details: { dependents } },
        );
      }
      return {
        apply: async () => {
          await this.commit(`module "${code}" was not disabled; it keeps serving`, (writes) => {
            writes.setEnabled(code, false);
            writes.setStatus(code, 'inactive', 'disabled by an operator');
            writes.recordEvent(code, 'toggled', { enabled: false });
          });
          slot.state = 'disabled';
          if (slot.generation !== undefined) slot.generation.subscriptions.live = false;
          this.options.logger.info({ module: code }, `module ${code} disabled`);
          return { code, enabled: false as const };
        },
        cancel: async () => {},
      };
    });
  }

  /**
   * Enables a module, loading it first when it was never loaded in this process. The load comes first, then
   * the registry write (one transaction), then the switch; when the load or the write fails nothing changes:
   * the module stays disabled and a generation loaded for it is discarded.
   */
  async enable(code: string): Promise<{ code: string; enabled: true }> {
    return (await this.stageEnable(code)).apply();
  }

  private stageEnable(code: string): Promise<StagedOperation<{ code: string; enabled: true }>> {
    return this.holds.stage(code, async () => {
      const { registry } = this.options;
      const slot = this.knownSlot(code);
      const record = registry.find(code)!;
      let loaded: LoadedGeneration | undefined;
      if (slot.generation === undefined) {
        try {
          loaded = await this.loadGeneration(slot, record.moduleDir, 1);
        } catch (error) {
          const reason = messageOf(error);
          await this.recordQuietly(code, (writes) => writes.recordEvent(code, 'toggled', { enabled: true, loaded: false, reason }));
          throw this.storageFailure(error, `module "${code}" was not enabled`) ??
            new ErpmodError('ERPMOD_RELOAD_FAILED', `module "${code}" was not enabled: it could not be loaded: ${reason}`, { cause: error });
        }
      }
      return {
        apply: async () => {
          const change = (writes: RegistryWrites): void => {
            if (loaded !== undefined) this.recordLoaded(writes, loaded, record.moduleDir);
            writes.setEnabled(code, true);
            writes.setStatus(code, 'active');
            writes.recordEvent(code, 'toggled', { enabled: true });
          };
          if (loaded === undefined) await this.commit(`module "${code}" was not enabled; it stays disabled`, change);
          else await this.commitOrDiscard(loaded.generation, `module "${code}" was not enabled; it stays disabled`, change);
          slot.state = 'active';
          if (loaded !== undefined) this.generationSwitch.swapIn(slot, loaded.generation);
          slot.generation!.subscriptions.live = true;
          this.options.logger.info({ module: code }, `module ${code} enabled`);
          return { code, enabled: true as const };
        },
        cancel: async () => {
          if (loaded !== undefined) await this.generationSwitch.discard(loaded.generation);
        },
      };
    });
  }

  toggle(code: string): Promise<{ code: string; enabled: boolean }> {
    this.knownSlot(code);
    return this.options.registry.isEnabled(code) ? this.disable(code) : this.enable(code);
  }

  /**
   * The first half of an action that several processes apply together (a cluster's workers): every
   * check and every load, nothing switched. The module stays held for this action until the caller
   * applies or cancels it; `apply()` then does what the one-step action does after its load, `cancel()`
   * unloads what was loaded for it. An action that cannot be staged throws, as the one-step one would.
   */
  stage(action: 'reload' | 'enable' | 'disable', code: string): Promise<StagedOperation<object>> {
    if (action === 'reload') return this.stageReload(code);
    return action === 'enable' ? this.stageEnable(code) : this.stageDisable(code);
  }

  /**
   * Loads a new generation without touching the registry's module records (the caller commits them with
   * recordLoaded, then swaps the generation in): a registry write that fails then changes nothing.
   * `expectSha256`: the build another instance of the fleet loaded; a different one here is refused before it is loaded.
   */
  private async loadGeneration(slot: ModuleSlot, moduleDir: string, number: number, expectSha256?: string): Promise<LoadedGeneration> {
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
    if (expectSha256 !== undefined && checked.sha256 !== expectSha256) {
      throw new ErpmodError(
        'ERPMOD_RELOAD_FAILED',
        `${moduleDir} holds a build with sha256 ${checked.sha256}, but the fleet reloaded ${expectSha256}: install the same pack on this instance (or share modules_dir), then reload`,
        { details: { expected: expectSha256, found: checked.sha256 } },
      );
    }
    guardModuleData({ registry, dataDir, code: slot.code, logger, store: this.options.generations.store });
    const migrations = migrationFiles(loaded, this.options.generations.store?.engine);
    const generation = await loadGeneration({
      loaded,
      shadowPath: checked.shadowPath,
      sha256: checked.sha256,
      migrations,
      dataDir,
      logger: logger.child({ module: slot.code, version: manifest.version }),
      bus,
      env,
      generationNumber: number,
    }, this.options.generations);
    return { generation, binary: checked.binary, migrations: migrations.map((migration) => migration.name) };
  }

  /** The registry rows of a freshly loaded generation; called inside the operation's one transaction. */
  private recordLoaded(writes: RegistryWrites, loaded: LoadedGeneration, moduleDir: string): void {
    const { manifest } = loaded.generation.loaded;
    writes.recordIdentity({ ...manifest, moduleDir });
    writes.recordBinary(manifest.code, loaded.binary);
    writes.replaceEndpoints(manifest.code, manifest.routes);
    writes.recordModuleMigrations(manifest.code, loaded.migrations);
  }

  /** Writes the operation's registry rows as one transaction; a storage failure names the cause and what did not happen. */
  private async commit(unchanged: string, write: (writes: RegistryWrites) => void): Promise<void> {
    try {
      await this.options.registry.batch(write);
    } catch (error) {
      throw this.storageFailure(error, unchanged) ?? error;
    }
  }

  /** commit, and when it fails, unloads the generation loaded for it so nothing is left half switched. */
  private async commitOrDiscard(generation: ModuleGeneration, unchanged: string, write: (writes: RegistryWrites) => void): Promise<void> {
    try {
      await this.commit(unchanged, write);
    } catch (error) {
      await this.generationSwitch.discard(generation);
      throw error;
    }
  }

  /** A storage failure (full disk, read-only, I/O) as its stable code, saying what was left unchanged. */
  private storageFailure(error: unknown, unchanged: string): ErpmodError | undefined {
    const storage = storageErrorOf(error, this.options.dataDir);
    if (storage === undefined) return undefined;
    return new ErpmodError(storage.code, `${unchanged}: ${storage.message}`, { cause: error, details: storage.details });
  }

  /**
   * Records a failure when the registry can take it; a registry that cannot be written (the failure being
   * reported may be that) must not hide the original error.
   */
  private async recordQuietly(code: string, write: (writes: RegistryWrites) => void): Promise<void> {
    try {
      await this.options.registry.batch(write);
    } catch (error) {
      this.options.logger.error({ module: code, err: messageOf(error) }, `could not record the failure of module ${code} in the registry`);
    }
  }

  /**
   * The slot to reload and where its module lives. A code the host does not know yet is looked for in
   * the modules directory: an operator who drops a new module there (or `erpmod install`s one) can load
   * it with a reload, without restarting the host.
   */
  private async slotToReload(code: string): Promise<{ slot: ModuleSlot; moduleDir: string }> {
    const slot = this.options.table.slots.get(code);
    const record = this.options.registry.find(code);
    if (slot !== undefined && record !== undefined) return { slot, moduleDir: record.moduleDir };
    const found = CODE_PATTERN.test(code) ? this.findModule(code) : undefined;
    if (found === undefined) {
      const known = record === undefined ? 'the host does not know it' : 'the registry remembers it, but it is not loaded here (its directory was removed or moved)';
      throw new ErpmodError('ERPMOD_NOT_FOUND', `no module with code "${code}": ${known}, and no directory under ${this.options.modulesDir} declares it`);
    }
    await this.options.registry.batch((writes) => {
      writes.recordIdentity({ ...found.manifest, moduleDir: found.moduleDir });
      writes.recordEvent(code, 'discovered', { moduleDir: found.moduleDir, operation: 'reload' });
    });
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
}

/** A generation loaded by an operation, with what its registry rows need. */
interface LoadedGeneration {
  readonly generation: ModuleGeneration;
  readonly binary: PluginBinary;
  readonly migrations: readonly string[];
}

