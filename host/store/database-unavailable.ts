import { ErpmodError } from '../errors';

/**
 * A handler that failed because the module's database could not be reached (the SDK passes the
 * DbError's code along with the rejection) is answered 503 ERPMOD_DATABASE_UNAVAILABLE, so clients and
 * load balancers retry instead of reporting a module bug. Anything else is not this function's.
 */
export function databaseUnavailable(module: string, error: unknown): ErpmodError | undefined {
  if (error instanceof ErpmodError || (error as { code?: unknown } | null)?.code !== 'ERPMOD_DATABASE_UNAVAILABLE') return undefined;
  // The database's address stays out of the reply: it is the host's business, not the client's.
  return new ErpmodError('ERPMOD_DATABASE_UNAVAILABLE', `module "${module}": its database is unavailable right now; retry shortly`, {
    cause: error,
    details: { retryAfterSeconds: 1 },
  });
}
