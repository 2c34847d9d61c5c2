import { messageOf } from '../errors';
import { withTimeout } from '../loader/with-timeout';
import type { PluginRepository } from '../registry/plugin-repository';
import type { ModuleTable } from './module-slot';
import type { ModuleLane } from '../execution/execution-pool';

/** A module with pool handlers stuck past their timeout is degraded, whatever it says of itself. */
function stuckHandlers(code: string, state: string, lane: ModuleLane | undefined): ModuleHealth | undefined {
  if (lane === undefined || lane.lost === 0) return undefined;
  return {
    code,
    status: 'degraded',
    state,
    details: {
      reason: `${lane.lost} pool handler(s) still running past timeouts.request_ms; their threads are lost until they return (isolation: process can kill them)`,
      execution: lane.stats(),
    },
  };
}

export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy';

export interface ModuleHealth {
  readonly code: string;
  /** `disabled` by an operator, `off` by its feature flag: neither counts against the host. */
  readonly status: HealthStatus | 'disabled' | 'off';
  readonly state: string;
  readonly details?: unknown;
}

export interface HostHealth {
  readonly status: HealthStatus;
  readonly checkedAt: string;
  readonly modules: readonly ModuleHealth[];
}

const HEALTH_TIMEOUT_MS = 1000;
/** Health is polled by load balancers and dashboards; a short cache keeps that from reaching modules each time. */
const CACHE_MS = 2000;

/**
 * Aggregates each module's optional health() (bounded by a timeout) with its load status. A module that
 * is enabled but not serving counts as unhealthy; the host is unhealthy when a serving module says so,
 * degraded when any module is not healthy.
 */
export class HealthReporter {
  private cached: { at: number; report: Promise<HostHealth> } | undefined;

  constructor(private readonly table: ModuleTable, private readonly registry: PluginRepository) {}

  report(): Promise<HostHealth> {
    const now = Date.now();
    if (this.cached === undefined || now - this.cached.at > CACHE_MS) this.cached = { at: now, report: this.collect() };
    return this.cached.report;
  }

  private async collect(): Promise<HostHealth> {
    // A module the registry remembers but this host does not have (removed from its modules directory,
    // or another instance's in a fleet) is no part of this host's health.
    const here = this.registry.list().filter((record) => record.status !== 'inactive' || this.table.slots.has(record.code));
    const modules = await Promise.all(here.map((record) => this.moduleHealth(record.code, record.status, record.enabled, record.lastError)));
    const serving = modules.filter((module) => module.state === 'active');
    const status: HealthStatus = serving.some((module) => module.status === 'unhealthy')
      ? 'unhealthy'
      : modules.some((module) => module.status !== 'healthy' && module.status !== 'disabled' && module.status !== 'off')
        ? 'degraded'
        : 'healthy';
    return { status, checkedAt: new Date().toISOString(), modules };
  }

  private async moduleHealth(code: string, state: string, enabled: boolean, lastError: string | null): Promise<ModuleHealth> {
    if (!enabled) return { code, status: 'disabled', state };
    const slot = this.table.slots.get(code);
    const generation = slot?.generation;
    const off = slot?.offBecause(state);
    if (off !== undefined) return { code, status: 'off', state, details: { reason: off } };
    if (state !== 'active' || generation === undefined) return { code, status: 'unhealthy', state, details: { reason: lastError } };
    const stuck = stuckHandlers(code, state, generation.lane);
    if (stuck !== undefined) return stuck;
    const health = generation.handler.health;
    if (typeof health !== 'function') return { code, status: 'healthy', state };
    try {
      const reply = (await withTimeout(health.call(generation.handler), HEALTH_TIMEOUT_MS, () => new Error(`health() did not answer within ${HEALTH_TIMEOUT_MS} ms`))) as {
        status?: unknown;
        details?: unknown;
      };
      const status = reply?.status;
      if (status !== 'healthy' && status !== 'degraded' && status !== 'unhealthy') {
        return { code, status: 'unhealthy', state, details: { reason: `health() returned status ${JSON.stringify(status)}` } };
      }
      return reply.details === undefined ? { code, status, state } : { code, status, state, details: reply.details };
    } catch (error) {
      return { code, status: 'unhealthy', state, details: { reason: messageOf(error) } };
    }
  }
}
