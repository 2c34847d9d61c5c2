import { ErpmodError } from '../errors';

/** Failed logins one client address may make within WINDOW_MS before it has to wait. */
export const MAX_FAILED_LOGINS = 10;
export const LOGIN_WINDOW_MS = 5 * 60 * 1000;

/**
 * Counts failed console logins per client address, so a browser (or anything else) cannot guess the
 * token at network speed. Memory is bounded: stale entries are dropped, and past MAX_ADDRESSES the
 * oldest address is forgotten.
 */
export class LoginLimiter {
  private static readonly MAX_ADDRESSES = 10_000;
  private readonly failures = new Map<string, number[]>();

  constructor(private readonly now: () => number = Date.now) {}

  /** @throws ErpmodError ERPMOD_TOO_MANY_ATTEMPTS while the address is over its budget. */
  assertAllowed(address: string): void {
    const recent = this.recent(address);
    if (recent.length < MAX_FAILED_LOGINS) return;
    const waitS = Math.ceil((recent[0]! + LOGIN_WINDOW_MS - this.now()) / 1000);
    throw new ErpmodError('ERPMOD_TOO_MANY_ATTEMPTS',
      `expected at most ${MAX_FAILED_LOGINS} failed console logins per ${LOGIN_WINDOW_MS / 60_000} minutes from ${address}, got ${recent.length}; try again in ${waitS} s`,
      { details: { retryAfterS: waitS } });
  }

  recordFailure(address: string): void {
    const recent = this.recent(address);
    recent.push(this.now());
    this.failures.delete(address);
    this.failures.set(address, recent);
    if (this.failures.size > LoginLimiter.MAX_ADDRESSES) this.failures.delete(this.failures.keys().next().value!);
  }

  recordSuccess(address: string): void {
    this.failures.delete(address);
  }

  private recent(address: string): number[] {
    const since = this.now() - LOGIN_WINDOW_MS;
    return (this.failures.get(address) ?? []).filter((at) => at > since);
  }
}
