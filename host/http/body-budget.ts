import type { ServerResponse } from 'node:http';
import { ErpmodError } from '../errors';

/** What a client refused for lack of room is told to wait before trying again. */
export const BUSY_RETRY_AFTER_SECONDS = 1;

/**
 * The bytes of request bodies this process holds at once, against one ceiling: the per-request limit
 * alone lets a thousand concurrent uploads take a thousand times that limit. Bytes are reserved before
 * they are buffered and released when the response closes (sent, failed or abandoned by the client),
 * which Node signals exactly once for every response, so no path can leak a reservation.
 */
export class BodyBudget {
  private used = 0;

  constructor(readonly capacity: number) {}

  /**
   * Reserves `bytes` for the request answered by `res` until it closes; false when there is no room.
   * `held` is that request's running total, so all its reservations are released together.
   */
  reserve(res: ServerResponse, bytes: number, held: { bytes: number }): boolean {
    // A response already destroyed may have emitted its 'close' already: nothing would release it.
    if (res.destroyed || this.used + bytes > this.capacity) return false;
    this.used += bytes;
    if (held.bytes === 0) res.once('close', () => this.release(held.bytes));
    held.bytes += bytes;
    return true;
  }

  private release(bytes: number): void {
    this.used -= bytes;
  }

  busyError(wanted: number): ErpmodError {
    return new ErpmodError(
      'ERPMOD_BUSY',
      `expected room for ${wanted} more bytes of request bodies, found ${this.capacity - this.used} of ${this.capacity} free (body_budget_bytes); retry after ${BUSY_RETRY_AFTER_SECONDS} s`,
      { details: { retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS } },
    );
  }
}

/**
 * One process's share of body_budget_bytes: workers split it, and it never drops below the per-request
 * limit, so a single request at the limit always fits.
 */
export function bodyBudgetPerProcess(config: { readonly bodyBudgetBytes: number; readonly bodyLimitBytes: number; readonly workers: number }): number {
  return Math.max(config.bodyLimitBytes, Math.floor(config.bodyBudgetBytes / config.workers));
}
