import type { LoadedManifest } from '../compliance/types';
import { migrationFiles } from '../compliance/manifest/list-migration-files';
import { ErpmodError, messageOf } from '../errors';
import type { Logger } from '../logger';
import type { PluginRepository, PluginStatus, RegistryWrites } from '../registry/plugin-repository';
import type { ModuleTable } from '../runtime/module-slot';
import type { TrustPolicy } from '../packaging/trust-policy';
import { checkModuleBinary } from './check-module-binary';
import { discoverModules } from './discover-modules';
import { createFirstDatabasesAhead, guardModuleData } from '../store/sqlite/guard-module-data';
import type { EventBus } from './event-bus';
import { loadGeneration, type GenerationSettings } from './load-generation';
import { orderModules } from './order-modules';

export interface BootModulesInput {
  readonly modulesDir: string;
  readonly dataDir: string;
  readonly logger: Logger;
  readonly registry: PluginRepository;
  readonly bus: EventBus;
  readonly table: ModuleTable;
  readonly env: NodeJS.ProcessEnv;
  readonly generations: GenerationSettings;
  /** The signature policy (trusted_keys, require_signature), read afresh for each check. */
  readonly trustPolicy: () => TrustPolicy;
  /** Modules whose recorded database the operator lets go (`erpmod serve --accept-new-data`). */
  readonly acceptNewData?: ReadonlySet<string>;
}

export interface ModuleOutcome {
  readonly code: string;
  readonly status: PluginStatus;
  readonly reason: string | undefined;
  readonly critical: boolean;
  readonly loadMs: number | undefined;
}

/**
 * Boot steps 2–7 of host.md: discover, validate, static compliance, dependency order, feature flags and
 * operator toggles, then load each module in order. Returns one outcome per module; throws
 * ERPMOD_CRITICAL_MODULE_FAILED (after unloading what it loaded) when a critical module did not load.
 */
export async function bootModules(input: BootModulesInput): Promise<ModuleOutcome[]> {
  const { logger, registry } = input;
  const outcomes = new Map<string, ModuleOutcome>();
  /** Records a module's outcome with `writes`, part of the caller's batch. */
  const settled = (writes: RegistryWrites, code: string, status: PluginStatus, reason: string | undefined, critical: boolean, loadMs?: number): void => {
    outcomes.set(code, { code, status, reason, critical, loadMs });
    writes.setStatus(code, status, reason ?? null);
    if (status !== 'active') writes.recordEvent(code, eventKindFor(status), reason === undefined ? {} : { reason });
    if (status !== 'active') {
      const log = status === 'inactive' ? logger.info.bind(logger) : logger.error.bind(logger);
      log({ module: code, status, reason }, `module ${code} ${status}`);
    }
  };
  const settle = (code: string, status: PluginStatus, reason: string | undefined, critical: boolean): Promise<void> =>
    registry.batch((writes) => settled(writes, code, status, reason, critical));

  const valid = new Map<string, LoadedManifest>();
  const discovered = discoverModules(input.modulesDir, logger);
  await registry.batch((writes) => {
    for (const found of discovered) {
      if (found.ok) {
        const { manifest } = found.loaded;
        writes.recordIdentity({ ...manifest, moduleDir: found.dir });
        valid.set(manifest.code, found.loaded);
      } else {
        writes.recordIdentity({ code: found.code, name: found.code, description: undefined, version: '', vendor: undefined, moduleDir: found.dir });
        settled(writes, found.code, 'rejected', found.error.message, false);
      }
    }
  });

  // A module the registry remembers whose directory is gone (removed by the operator, or moved) is no
  // longer what it last was: it is recorded inactive, once, with why. Its record, audit trail and data stay.
  const present = new Set(discovered.map((found) => (found.ok ? found.loaded.manifest.code : found.code)));
  const gone = registry.list().filter((record) => !present.has(record.code) && record.status !== 'inactive');
  if (gone.length > 0) {
    await registry.batch((writes) => {
      for (const record of gone) settled(writes, record.code, 'inactive', `not in ${input.modulesDir} at boot: its directory was removed or moved`, false);
    });
  }

  for (const code of input.acceptNewData ?? []) {
    if (!valid.has(code)) logger.warn({ module: code }, `--accept-new-data names "${code}", which no valid module in ${input.modulesDir} declares; ignored`);
  }

  // Every valid module gets a slot, loaded or not, so its URL prefix answers 503 rather than 404.
  for (const code of valid.keys()) input.table.slot(code);

  const dependents = countDependents([...valid.values()]);
  const isCritical = (code: string): boolean => valid.get(code)?.manifest.critical ?? (dependents.get(code) ?? 0) > 0;

  const { order, problems } = orderModules([...valid.values()].map(({ manifest }) => manifest));
  for (const [code, error] of problems) await settle(code, 'failed', error.message, isCritical(code));

  // A first boot's databases, made together rather than each as its module loads (a disabled or
  // flagged-off module gets none, as before; one whose load then fails keeps its empty database).
  await createFirstDatabasesAhead({
    registry,
    dataDir: input.dataDir,
    store: input.generations.store,
    codes: order.filter((code) => skipReason(featureFlagOff(valid.get(code)!, input.env), registry.isEnabled(code)) === undefined),
  });

  for (const code of order) {
    const loaded = valid.get(code)!;
    const { manifest } = loaded;
    const critical = isCritical(code);

    const blocker = manifest.dependencies.find((dependency) => outcomes.get(dependency)?.status !== 'active');
    if (blocker !== undefined) {
      const why = outcomes.get(blocker);
      await settle(code, 'blocked', `dependency "${blocker}" is ${why?.status ?? 'not loaded'}${why?.reason === undefined ? '' : `: ${why.reason}`}`, critical);
      continue;
    }
    const flagOff = featureFlagOff(loaded, input.env);
    const enabled = registry.isEnabled(code);
    const slot = input.table.slot(code);
    if (!enabled) slot.state = 'disabled';
    const skipped = skipReason(flagOff, enabled);
    if (skipped !== undefined) {
      slot.switchedOff = flagOff;
      await settle(code, 'inactive', skipped, false);
      continue;
    }

    const checked = checkModuleBinary(loaded, input.dataDir, input.trustPolicy());
    if (!checked.ok) {
      await registry.batch((writes) => {
        writes.recordBinary(code, checked.binary);
        settled(writes, code, 'rejected', checked.reason, critical);
      });
      continue;
    }
    try {
      guardModuleData({ registry, dataDir: input.dataDir, code, logger, store: input.generations.store, acceptNewData: input.acceptNewData?.has(code) ?? false });
      const migrations = migrationFiles(loaded, input.generations.store?.engine);
      const generation = await loadGeneration({
        loaded,
        shadowPath: checked.shadowPath,
        sha256: checked.sha256,
        migrations,
        dataDir: input.dataDir,
        logger: logger.child({ module: code, version: manifest.version }),
        bus: input.bus,
        env: input.env,
        generationNumber: 1,
      }, input.generations);
      slot.generation = generation;
      slot.residentImages.add(generation.shadowPath);
      generation.subscriptions.live = true;
      input.bus.settleSubscriptions(generation.subscriptions);
      await registry.batch((writes) => {
        writes.recordBinary(code, checked.binary);
        writes.replaceEndpoints(code, manifest.routes);
        writes.recordModuleMigrations(code, migrations.map((migration) => migration.name));
        settled(writes, code, 'active', undefined, critical, generation.loadMs);
        writes.recordEvent(code, 'loaded', { version: manifest.version, sha256: checked.sha256, loadMs: generation.loadMs });
      });
      logger.info(
        { module: code, version: manifest.version, loadMs: generation.loadMs, routes: manifest.routes.length, isolation: generation.isolation },
        `module ${code} loaded`,
      );
    } catch (error) {
      await registry.batch((writes) => {
        writes.recordBinary(code, checked.binary);
        settled(writes, code, 'failed', messageOf(error), critical);
      });
    }
  }

  const criticalFailure = [...outcomes.values()].find((outcome) => outcome.critical && outcome.status !== 'active' && outcome.status !== 'inactive');
  if (criticalFailure !== undefined) {
    throw new ErpmodError(
      'ERPMOD_CRITICAL_MODULE_FAILED',
      `critical module "${criticalFailure.code}" is ${criticalFailure.status}: ${criticalFailure.reason ?? 'no reason recorded'}`,
      { details: { module: criticalFailure.code } },
    );
  }
  return [...outcomes.values()];
}

/** Why a module is not loaded at this boot (its feature flag is off, or an operator disabled it), or undefined. */
function skipReason(flagOff: string | undefined, enabled: boolean): string | undefined {
  return flagOff ?? (enabled ? undefined : 'disabled by an operator');
}

/** Why a module is switched off by its feature flag, or undefined when it has none or it is on. */
function featureFlagOff({ manifest }: LoadedManifest, env: NodeJS.ProcessEnv): string | undefined {
  if (manifest.featureFlag === undefined) return undefined;
  const variable = `FEATURE_FLAG_${manifest.featureFlag.toUpperCase()}`;
  return env[variable]?.toLowerCase() === 'false' ? `feature flag ${manifest.featureFlag} is off (${variable}=false)` : undefined;
}

function countDependents(manifests: readonly LoadedManifest[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { manifest } of manifests) {
    for (const dependency of manifest.dependencies) counts.set(dependency, (counts.get(dependency) ?? 0) + 1);
  }
  return counts;
}

function eventKindFor(status: PluginStatus): 'rejected' | 'failed' | 'blocked' | 'skipped' | 'loaded' {
  switch (status) {
    case 'rejected':
      return 'rejected';
    case 'blocked':
      return 'blocked';
    case 'inactive':
      return 'skipped';
    case 'active':
      return 'loaded';
    case 'failed':
      return 'failed';
  }
}
