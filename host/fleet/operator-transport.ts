import cluster from 'node:cluster';
import { FanOutOperator, type OperatorActions } from '../cluster/fan-out-operator';
import type { HostConfig } from '../config/load-config';
import type { Logger } from '../logger';
import type { ModuleOperator } from '../operations/module-operator';
import type { PluginRepository } from '../registry/plugin-repository';
import type { ModuleTable } from '../runtime/module-slot';
import { postgresSettings } from '../store/open-module-store';
import { messageOf } from '../errors';
import type { TrustPolicy } from '../packaging/trust-policy';
import { registryInstanceName } from '../registry/open-registry';
import { FleetOperator } from './fleet-operator';
import { PostgresFleetLink } from './postgres-fleet-link';

export interface OperatorTransport {
  /** What the operator routes and the console call. */
  readonly actions: OperatorActions;
  /** Where an action taken elsewhere reaches this process: `local`, `cluster` (IPC) or `postgres` (LISTEN/NOTIFY). */
  readonly kind: 'local' | 'cluster' | 'postgres';
  close(): Promise<void>;
}

export interface OperatorTransportOptions {
  readonly config: Pick<HostConfig, 'dataDir' | 'databaseUrl' | 'databaseSslMode' | 'databaseSslCaFile' | 'databasePoolSize' | 'databaseConnectTimeoutMs' | 'modulesDir' | 'instanceName' | 'port'>;
  readonly operator: ModuleOperator;
  readonly registry: PluginRepository;
  readonly table: ModuleTable;
  readonly logger: Logger;
  /** The trust policy packs installed from the fleet are checked against (read afresh each time). */
  readonly trustPolicy: () => TrustPolicy;
}

/**
 * The one place that decides how an operator action reaches the other processes serving the same
 * modules. With database_url, every process (each instance, each cluster worker) listens on
 * PostgreSQL and converges on the fleet's rows, so workers and instances are reached the same way;
 * without it, cluster workers fan out through the primary over IPC; a single process acts alone.
 */
export async function openOperatorTransport(options: OperatorTransportOptions): Promise<OperatorTransport> {
  const { config, operator, registry, table, logger } = options;
  if (config.databaseUrl !== undefined) {
    let fleet: FleetOperator | undefined;
    const link = new PostgresFleetLink(postgresSettings(config, config.databaseUrl), logger, (reason) => {
      // The registry's mirror and the operator state follow the same wake-ups.
      registry.refresh().catch((error: unknown) => logger.warn({ reason, err: messageOf(error) }, 'fleet: could not read the registry; the next wake-up tries again'));
      fleet?.wake(reason);
    });
    fleet = new FleetOperator(operator, link, table, logger, { modulesDir: config.modulesDir, trustPolicy: options.trustPolicy, registry, instance: registryInstanceName(config) });
    try {
      await fleet.adopt(await link.open());
    } catch (error) {
      await link.close();
      throw error;
    }
    return { actions: fleet, kind: 'postgres', close: () => link.close() };
  }
  if (cluster.isWorker) return { actions: new FanOutOperator(operator, registry), kind: 'cluster', close: async () => undefined };
  return { actions: operator, kind: 'local', close: async () => undefined };
}
