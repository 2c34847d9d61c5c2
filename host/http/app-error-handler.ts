import type express from 'express';
import type { NextFunction, Request, Response } from 'express';
import { ErpmodError, messageOf } from '../errors';
import type { Logger } from '../logger';
import { requestIdOf } from './request-id';
import { sendError } from './send-error';

/** The last two handlers of an Express app: a 404 for unknown routes, then errors as `{error: {...}}`. */
export function finishWithErrors(app: express.Express, logger: Logger): void {
  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(new ErpmodError('ERPMOD_NOT_FOUND', `no route ${req.method} ${req.path}`));
  });
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    const requestId = requestIdOf(req);
    if (error instanceof ErpmodError) return sendError(res, error.code, error.message, requestId);
    const status = (error as { status?: unknown }).status;
    // express's own parsers report client mistakes with a 4xx status; keep them client errors.
    if (typeof status === 'number' && status === 413) return sendError(res, 'ERPMOD_BODY_TOO_LARGE', messageOf(error), requestId);
    if (typeof status === 'number' && status >= 400 && status < 500) return sendError(res, 'ERPMOD_BAD_JSON', messageOf(error), requestId);
    logger.error({ requestId, err: messageOf(error) }, 'operator route failed');
    sendError(res, 'ERPMOD_INTERNAL', `internal error; the log has the details under request id ${requestId}`, requestId);
  });
}
