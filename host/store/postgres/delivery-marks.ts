import { escapeLiteral } from 'pg';

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
  const eventId = marks.get(code);
  if (eventId === undefined) return undefined;
  // A transaction by handle carries the delivery its subscriber began it for: only that one records it
  // (concurrent transactions of the module, for a request or another delivery, record nothing).
  if (delivery !== undefined && delivery !== eventId) return undefined;
  return {
    sql: `SELECT erpmod_events.mark_handled(${Math.trunc(eventId)}, ${escapeLiteral(code)}); `,
    committed: () => void written.add(code),
  };
}
