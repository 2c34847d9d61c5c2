import type { NextFunction, Request, Response } from 'express';
import { ErpmodError } from '../errors';
import { isReadOnly } from './origin-guard';

/**
 * State-changing operator requests carry JSON or nothing (curl sends no content type without a body).
 * The content types a web form or a plain fetch may send without a CORS preflight are refused.
 */
export function refuseNonJson(req: Request, _res: Response, next: NextFunction): void {
  const type = req.headers['content-type'];
  if (type === undefined || isReadOnly(req.method)) return next();
  const essence = type.split(';')[0]!.trim().toLowerCase();
  if (essence === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(essence)) return next();
  next(new ErpmodError('ERPMOD_UNSUPPORTED_MEDIA_TYPE', `expected content-type application/json or none on a ${req.method}, got ${JSON.stringify(type)}`));
}
