import crypto from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { SessionAcceptor } from '../console/accept-session';
import { ErpmodError } from '../errors';

/**
 * Every operator route needs `Authorization: Bearer <token>`, from any client: loopback is not a
 * credential (a reverse proxy or a browser on the same machine would lend theirs to anyone). The scheme
 * is case-insensitive (RFC 9110); the token is compared in constant time. Without the header, the
 * console's session cookie (issued for the same token) stands in for it.
 */
export function createAdminGuard(adminToken: string, acceptSession?: SessionAcceptor) {
  const expected = digest(adminToken);
  return (req: Request, _res: Response, next: NextFunction): void => {
    const header = req.headers.authorization ?? '';
    const match = /^bearer +(\S+) *$/i.exec(header);
    // Hash both sides: timingSafeEqual needs equal lengths, and the length must not leak either.
    if (match !== null && crypto.timingSafeEqual(digest(match[1]!), expected)) return next();
    if (req.headers.authorization === undefined && acceptSession !== undefined) {
      try {
        if (acceptSession(req) !== undefined) return next();
      } catch (error) {
        return next(error);
      }
    }
    next(new ErpmodError('ERPMOD_UNAUTHORIZED', match === null
      ? 'expected an "Authorization: Bearer <admin token>" header, got none; the token is admin_token (ERPMOD_ADMIN_TOKEN) or the admin-token file in the data directory'
      : 'expected the admin token, got another bearer token'));
  };
}

/** SHA-256 of a token: equal-length inputs for crypto.timingSafeEqual, so neither content nor length leaks. */
export function digest(value: string): Buffer {
  return crypto.createHash('sha256').update(value).digest();
}
