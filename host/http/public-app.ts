import express from 'express';
import { ErpmodError } from '../errors';
import type { Logger } from '../logger';
import { finishWithErrors } from './app-error-handler';
import { mountHealthRoutes } from './health-routes';

export interface PublicAppOptions {
  readonly logger: Logger;
  readonly isReady: () => boolean;
  /** Where operator routes are now, for the message that points there. */
  readonly adminAddress: string;
  /** The admin token file, or undefined when the token is configured. */
  readonly adminTokenFile: string | undefined;
}

/** The paths the operator API had on the public port before it moved to its own listener. */
export const OPERATOR_PATHS = ['/plugins', '/plugins/*path', '/api/v1/system', '/api/v1/system/*path', '/metrics'];

/**
 * What the public listener serves besides module routes: health for load balancers, and for the old
 * operator paths an answer that says where they went.
 */
export function createPublicApp(options: PublicAppOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  mountHealthRoutes(app, options.isReady);
  const token = options.adminTokenFile === undefined ? 'the configured admin_token (ERPMOD_ADMIN_TOKEN)' : `the token in ${options.adminTokenFile}`;
  app.all(OPERATOR_PATHS, (req) => {
    throw new ErpmodError(
      'ERPMOD_OPERATOR_ROUTE_MOVED',
      `${req.method} ${req.path} is an operator route: the public listener does not serve it; call the admin listener at ${options.adminAddress} with "Authorization: Bearer <token>", ${token}`,
    );
  });
  finishWithErrors(app, options.logger);
  return app;
}
