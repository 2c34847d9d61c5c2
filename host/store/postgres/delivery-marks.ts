import type pg from 'pg';

/**
 * The event a module is being delivered in this process, so that the transaction its subscriber commits
 * records "handled" in the same commit (erpmod_events.mark_handled): a delivery retried after the
 * delivering instance died is then recognised as done instead of running the subscriber twice.
 *
 * One mark per module at a time: a second delivery to a module that already has one in flight here is
 * not marked (it stays at-least-once), which keeps a mark from being taken by the wrong delivery.
 */
const marks = new Map<string, number>();
/** Modules whose in-flight delivery a transaction marked (sent before its COMMIT). */
const written = new Set<string>();

/**
 * Marks `eventId` as the delivery in flight to `code`; returns the function that clears it, or
 * undefined when another is in flight. The function answers whether a transaction of the subscriber
 * marked the delivery: then that transaction's COMMIT completed it, or (the COMMIT failed) it stays
 * claimed and is retried when the lease runs out, and the host has nothing left to record.
 */
export function beginDeliveryMark(code: string, eventId: number): (() => boolean) | undefined {
  if (marks.has(code)) return undefined;
  marks.set(code, eventId);
  written.delete(code);
  return () => {
    if (marks.get(code) !== eventId) return false;
    marks.delete(code);
    return written.delete(code);
  };
}

/**
 * Called by the module's ctx.db on its transaction's connection just before COMMIT (`delivery`: see
 * PostgresFacadeOptions.beforeCommit). When the mark cannot
 * be written the transaction is rolled back and the error thrown: committing the work without its mark
 * would let a retry run the subscriber again.
 */
export async function writeDeliveryMark(code: string, client: pg.PoolClient, delivery?: number | null): Promise<void> {
  const eventId = marks.get(code);
  if (eventId === undefined) return;
  // A transaction by handle carries the delivery its subscriber began it for: only that one records it
  // (concurrent transactions of the module, for a request or another delivery, record nothing).
  if (delivery !== undefined && delivery !== eventId) return;
  try {
    await client.query('SELECT erpmod_events.mark_handled($1, $2)', [eventId, code]);
    written.add(code);
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
