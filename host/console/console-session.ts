import crypto from 'node:crypto';

/** The console's session cookie. `__Host-` would demand Secure, which plain http on loopback cannot give. */
export const SESSION_COOKIE = 'erpmod_console';
/** The header a state-changing request authenticated by the cookie must carry, with the session's CSRF token. */
export const CSRF_HEADER = 'x-erpmod-csrf';
/** How long a console login lasts. */
export const SESSION_TTL_MS = 8 * 60 * 60 * 1000;

export interface ConsoleSession {
  readonly expiresAt: number;
  /** Bound to this session: whoever can read it can already read the session's pages. */
  readonly csrf: string;
}

/**
 * Stateless, signed sessions: `<expires ms>.<nonce>.<HMAC-SHA256>` under a key derived from the admin
 * token. Any cluster worker verifies a cookie another one issued, a restart keeps logins, and rotating the
 * admin token ends every session at once. The cost: a single session cannot be revoked before it expires
 * (logout deletes the browser's cookie).
 */
export class ConsoleSessions {
  private readonly key: Buffer;

  constructor(adminToken: string, private readonly now: () => number = Date.now, private readonly ttlMs = SESSION_TTL_MS) {
    this.key = crypto.createHmac('sha256', adminToken).update('erpmod console session v1').digest();
  }

  issue(): { readonly value: string; readonly session: ConsoleSession } {
    const expiresAt = this.now() + this.ttlMs;
    const nonce = crypto.randomBytes(18).toString('base64url');
    const payload = `${expiresAt}.${nonce}`;
    return { value: `${payload}.${this.mac(payload)}`, session: { expiresAt, csrf: this.csrfOf(nonce) } };
  }

  /** The session a cookie value stands for, or undefined when it is forged, altered or expired. */
  verify(value: string | undefined): ConsoleSession | undefined {
    if (value === undefined) return undefined;
    const match = /^(\d{1,15})\.([A-Za-z0-9_-]{24})\.([A-Za-z0-9_-]{43})$/.exec(value);
    if (match === null) return undefined;
    const [, expires, nonce, mac] = match as unknown as [string, string, string, string];
    const expected = Buffer.from(this.mac(`${expires}.${nonce}`));
    if (!crypto.timingSafeEqual(Buffer.from(mac), expected)) return undefined;
    const expiresAt = Number(expires);
    if (expiresAt <= this.now()) return undefined;
    return { expiresAt, csrf: this.csrfOf(nonce) };
  }

  private csrfOf(nonce: string): string {
    return this.mac(`csrf.${nonce}`);
  }

  private mac(text: string): string {
    return crypto.createHmac('sha256', this.key).update(text).digest('base64url');
  }
}

/** One cookie's value from a Cookie header (the first occurrence). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
