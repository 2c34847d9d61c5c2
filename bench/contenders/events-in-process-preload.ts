/**
 * Loaded with `node --require` into a host the orders benchmark starts for reference only: module data
 * on PostgreSQL as configured, but events delivered by the in-process bus (as on SQLite) instead of the
 * fleet's outbox. It is not a mode of the product — events would not cross instances, and a delivery
 * lost with its process would not be retried — and nothing in host/ knows of it: it replaces the one
 * function that chooses the events engine before the host first calls it. What the row it produces
 * measures is what the outbox costs an order, next to everything else a module boundary costs.
 */
import { EventBus } from '../../host/loader/event-bus';
import eventBusChoice = require('../../host/events/open-event-bus');
import { EVENTS_IN_PROCESS_LINE } from './events-in-process';

(eventBusChoice as { openEventBus: typeof eventBusChoice.openEventBus }).openEventBus = (_settings, logger) => {
  // Said, so that the benchmark knows its reference row measured what it says.
  process.stdout.write(`${EVENTS_IN_PROCESS_LINE}\n`);
  return Promise.resolve(new EventBus(logger));
};
