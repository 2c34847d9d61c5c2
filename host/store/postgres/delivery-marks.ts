import { escapeLiteral } from 'pg';

/**
 * The events being delivered to each module in this process, so that the transaction its subscriber
 * commits records "handled" in the same commit (erpmod_events.mark_handled): a delivery retried after the
 * delivering instance died is then recognised as done instead of running the subscriber twice.
 *
 * A transaction by handle names the delivery it was begun for, so any number of deliveries to one
 * module may be in flight at once, each marked by its own subscriber's transaction. The module-wide
 * transaction of `exec('BEGIN')` (libraries built before transactions by handle) names none: it marks
 * the module's oldest delivery in flight, and one begun while that runs is never marked by it (it stays
 * at-least-once), so a mark is not taken by the wrong delivery.
 */
interface ModuleDeliveries {
  readonly byEvent: Map<number, { written: boolean }>;
  /** What the module-wide transaction marks: the delivery begun while none was in flight, until it ends. */
  first: number | undefined;
}
const inFlight = new Map<string, ModuleDeliveries>();

/**
 * Marks `eventId` as a delivery in flight to `code`; returns the function that clears it. The function
 * answers whether a transaction of the subscriber marked the delivery: then that transaction's COMMIT
 * completed it, or (the COMMIT failed) it stays claimed and is retried when the lease runs out, and the
 * host has nothing left to record. Undefined when that delivery is already in flight here.
 */
export function beginDeliveryMark(code: string, eventId: number): (() => boolean) | undefined {
  let deliveries = inFlight.get(code);
  if (deliveries === undefined) inFlight.set(code, (deliveries = { byEvent: new Map(), first: undefined }));
  const { byEvent } = deliveries;
  if (byEvent.has(eventId)) return undefined;
  const entry = { written: false };
  byEvent.set(eventId, entry);
  if (byEvent.size === 1) deliveries.first = eventId;
  return () => {
    if (byEvent.get(eventId) !== entry) return false;
    byEvent.delete(eventId);
    if (deliveries.first === eventId) deliveries.first = undefined;
    if (byEvent.size === 0 && inFlight.get(code) === deliveries) inFlight.delete(code);
    return entry.written;
  };
}

/** What a transaction sends with its COMMIT to record a delivery, and what to tell once that COMMIT succeeded. */
export interface CommitMark {
  /** Statements sent before COMMIT in the same round trip (a simple query: values written in). */
  readonly sql: string;
  readonly committed: () => void;
}

/**
 * Asked by the module's ctx.db as its transaction commits (`delivery`: see PostgresFacadeOptions.markOnCommit):
 * the mark travels in COMMIT's round trip (`SELECT erpmod_events.mark_handled(…); COMMIT`), so a
 * subscriber's transaction inside inventory's write lock costs one round trip less. If the mark fails,
 * PostgreSQL runs nothing after it in that query: the transaction is aborted and rolled back, and the
 * error thrown — committing the work without its mark would let a retry run the subscriber again.
 */
export function deliveryMarkFor(code: string, delivery?: number | null): CommitMark | undefined {
  const deliveries = inFlight.get(code);
  if (deliveries === undefined || delivery === null) return undefined;
  // A transaction by handle records the delivery its subscriber began it for, and only that one.
  const eventId = delivery ?? deliveries.first;
  if (eventId === undefined) return undefined;
  const entry = deliveries.byEvent.get(eventId);
  if (entry === undefined) return undefined;
  return {
    sql: `SELECT erpmod_events.mark_handled(${Math.trunc(eventId)}, ${escapeLiteral(code)}); `,
    committed: () => void (entry.written = true),
  };
}
