import { readManifest } from '../compliance/manifest/read-manifest';
import type { ModuleManifest } from '../compliance/types';
import type { PluginRecord, PluginRepository } from '../registry/plugin-repository';
import type { ModuleSlot, ModuleTable } from '../runtime/module-slot';
import type { TrustPolicy } from '../packaging/trust-policy';
import type { ModuleDetail, ModuleView } from './console-shapes';
import { maskConfig } from './mask-config';
import { signatureStateOf } from './signature-state';

export interface ModuleSources {
  readonly registry: PluginRepository;
  readonly table: ModuleTable;
  readonly trustPolicy: () => TrustPolicy;
}

/** Every known module as the console's table shows it. */
export function listModuleViews(sources: ModuleSources): ModuleView[] {
  const records = sources.registry.list();
  const manifests = new Map(records.map((record) => [record.code, manifestOf(sources.table, record)]));
  const trust = sources.trustPolicy();
  return records.map((record) => viewOf(sources.table, record, manifests, trust));
}

/** One module's page; undefined when no module has this code. */
export function describeModule(sources: ModuleSources, code: string): ModuleDetail | undefined {
  const record = sources.registry.find(code);
  if (record === undefined) return undefined;
  const records = sources.registry.list();
  const manifests = new Map(records.map((r) => [r.code, manifestOf(sources.table, r)]));
  const view = viewOf(sources.table, record, manifests, sources.trustPolicy());
  const events = sources.registry.events(code);
  return {
    ...view,
    description: record.description,
    vendor: record.vendor,
    moduleDir: record.moduleDir,
    config: maskConfig(manifests.get(code)?.config ?? {}),
    metrics: sources.table.slots.get(code)?.metrics.snapshot() ?? null,
    events,
    crashes: events.filter((event) => event.kind === 'crashed'),
    instances:
      record.instances?.map(({ instance, status, lastError, loadedAt, binarySha256, lastSeenAt, live }) => ({ instance, status, lastError, loadedAt, binarySha256, lastSeenAt, live })) ?? null,
  };
}

function viewOf(table: ModuleTable, record: PluginRecord, manifests: ReadonlyMap<string, ModuleManifest | undefined>, trust: TrustPolicy): ModuleView {
  const slot = table.slots.get(record.code);
  const generation = slot?.generation;
  const manifest = manifests.get(record.code);
  const executionOf = new Map(manifest?.routes.map((route) => [`${route.method} ${route.path}`, route.execution]));
  const dependents = [...manifests].filter(([, other]) => other?.dependencies.includes(record.code)).map(([code]) => code);
  return {
    code: record.code,
    name: record.name,
    version: generation?.loaded.manifest.version ?? record.version,
    status: record.status,
    enabled: record.enabled,
    lastError: record.lastError,
    isolation: generation?.isolation ?? manifest?.isolation ?? null,
    execution: manifest?.execution ?? null,
    health: healthOf(record, slot),
    binarySha256: generation?.sha256 ?? record.binarySha256,
    signature: signatureStateOf(record.moduleDir, trust),
    loadedAt: generation?.loadedAt ?? record.loadedAt,
    loadMs: generation?.loadMs ?? null,
    generation: generation?.number ?? null,
    routes: record.endpoints.map(({ method, path }) => ({ method, path, execution: executionOf.get(`${method} ${path}`) ?? null })),
    dependencies: manifest?.dependencies ?? [],
    dependents,
  };
}

/** The manifest the module runs with, or the one on disk when it is not loaded (undefined when unreadable). */
function manifestOf(table: ModuleTable, record: PluginRecord): ModuleManifest | undefined {
  const loaded = table.slots.get(record.code)?.generation?.loaded.manifest;
  if (loaded !== undefined) return loaded;
  try {
    return readManifest(record.moduleDir).manifest;
  } catch {
    return undefined;
  }
}

/**
 * What the module does for requests now: `disabled` by an operator (loaded or not), `off` by its feature
 * flag, `not-serving` when it should and does not (failed, blocked, rejected), else `serving`.
 */
function healthOf(record: PluginRecord, slot: ModuleSlot | undefined): ModuleView['health'] {
  if (!record.enabled || slot?.state === 'disabled') return 'disabled';
  if (slot?.generation !== undefined) return 'serving';
  return slot?.offBecause(record.status) !== undefined ? 'off' : 'not-serving';
}
