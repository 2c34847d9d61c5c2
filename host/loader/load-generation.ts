import type { Isolation } from '../compliance/types';
import { loadIsolatedModule, type IsolationSettings } from '../isolation/load-isolated-module';
import type { ModuleGeneration } from '../runtime/module-generation';
import type { ModuleStore } from '../store/module-store';
import { loadModule, type LoadModuleInput } from './load-module';

export interface GenerationSettings extends IsolationSettings {
  /** The host-wide override of module.yml's `isolation`, when the configuration sets one. */
  readonly isolationOverride: Isolation | undefined;
  /** Where module data lives (the engine database_url picks); SQLite files under dataDir when absent. */
  readonly store?: ModuleStore;
}

/** Loads a module in-process or in its own process, as its manifest (or the host's override) says. */
export async function loadGeneration(input: LoadModuleInput, settings: GenerationSettings): Promise<ModuleGeneration> {
  const isolation = settings.isolationOverride ?? input.loaded.manifest.isolation;
  if (isolation === 'process') {
    // The host sets the module's database up; its runner only opens it.
    const runnerStore = await settings.store?.prepareIsolated(input.loaded.manifest.code, input.migrations);
    return loadIsolatedModule({ ...input, runnerStore }, settings);
  }
  return loadModule({ ...input, store: settings.store });
}
