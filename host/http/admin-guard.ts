import crypto from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { ErpmodError } from '../errors';

/**
 * Operator routes: with an admin token set, they need `Authorization: Bearer <token>` (compared in
 * constant time); with none set, only loopback clients may call them.
 */
export function createAdminGuard(adminToken: string | undefined) {
  const expected = adminToken === undefined ? undefined : digest(adminToken);
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (expected === undefined) {
      if (isLoopback(req.socket.remoteAddress)) return next();
      return next(new ErpmodError('ERPMOD_FORBIDDEN', `operator routes answer only loopback clients while no admin token is set; got a request from ${req.socket.remoteAddress ?? 'an unknown address'}`));
    }
    const header = req.headers.authorization ?? '';
    const match = /^Bearer (.+)$/.exec(header);
    // Hash both sides: timingSafeEqual needs equal lengths, and the length must not leak either.
    if (match !== null && crypto.timingSafeEqual(digest(match[1]!), expected)) return next();
    next(new ErpmodError('ERPMOD_UNAUTHORIZED', match === null ? 'expected an "Authorization: Bearer <admin token>" header, got none' : 'expected the admin token, got another bearer token'));
  };
}

function digest(value: string): Buffer {
  return crypto.createHash('sha256').update(value).digest();
}

function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}
