import type { NextFunction, Request, Response } from 'express';
import { ErpmodError } from '../errors';

/**
 * A browser sends `Origin` with every cross-site POST, and lets a page send `text/plain` or a form
 * without asking first. A state-changing request whose Origin is not the listener's own is a page on
 * another site acting with the operator's browser: refused.
 */
export function refuseForeignOrigin(req: Request, _res: Response, next: NextFunction): void {
  const origin = req.headers.origin;
  if (origin === undefined || isReadOnly(req.method)) return next();
  const own = req.headers.host;
  if (own !== undefined && (origin === `http://${own}` || origin === `https://${own}`)) return next();
  next(new ErpmodError('ERPMOD_FOREIGN_ORIGIN', `expected no Origin header or this listener's own (http://${own ?? '?'}) on a ${req.method}, got ${JSON.stringify(origin)}; operator actions are not taken on behalf of other web pages`));
}

export function isReadOnly(method: string): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}
