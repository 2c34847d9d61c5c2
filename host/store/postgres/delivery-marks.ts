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

/** Marks `eventId` as the delivery in flight to `code`; returns the function that clears it, or undefined when another is in flight. */
export function beginDeliveryMark(code: string, eventId: number): (() => void) | undefined {
  if (marks.has(code)) return undefined;
  marks.set(code, eventId);
  return () => {
    if (marks.get(code) === eventId) marks.delete(code);
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
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
