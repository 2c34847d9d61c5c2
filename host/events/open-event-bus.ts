import type { HostConfig } from '../config/load-config';
import { messageOf } from '../errors';
import { EventBus } from '../loader/event-bus';
import type { Logger } from '../logger';
import type { PluginRepository } from '../registry/plugin-repository';
import { postgresSettings, type ModuleStoreSettings } from '../store/open-module-store';
import { PostgresOutboxBus } from './postgres-outbox-bus';

export type EventBusSettings = ModuleStoreSettings & Pick<HostConfig, 'eventLeaseMs' | 'eventMaxAttempts'>;

/**
 * The one place the events engine is chosen, with the store: without database_url the in-process bus
 * (synchronous delivery inside publish); with it the PostgreSQL outbox shared by the fleet.
 */
export async function openEventBus(settings: EventBusSettings, logger: Logger, registry: PluginRepository): Promise<EventBus> {
  if (settings.databaseUrl === undefined) return new EventBus(logger);
  const bus = new PostgresOutboxBus(logger, {
    settings: postgresSettings(settings, settings.databaseUrl),
    leaseMs: settings.eventLeaseMs,
    maxAttempts: settings.eventMaxAttempts,
    // The registry's write resolves once committed; a write that fails is logged here, never left unhandled.
    recordFailure: (failure) => {
      registry.recordEvent(failure.subscriber, 'event-failed', {
        eventId: failure.eventId,
        topic: failure.topic,
        publisher: failure.publisher,
        attempts: failure.attempts,
        error: failure.error,
      }).catch((error: unknown) => logger.error({ subscriber: failure.subscriber, eventId: failure.eventId, err: messageOf(error) }, 'events: could not record a failed delivery in the registry'));
    },
  });
  await bus.open();
  return bus;
}
