import type FindMyWay from 'find-my-way';
import { HTTP_METHODS } from '../compliance/types';

/**
 * The methods a module's router serves `path` with, for a 405's `Allow` header (HEAD with GET, as the
 * dispatcher serves it). Only asked for requests no route matched, so the extra lookups cost nothing on
 * the hot path.
 */
export function allowedMethods(router: FindMyWay.Instance<FindMyWay.HTTPVersion.V1>, path: string): string[] {
  const allowed: string[] = [];
  for (const method of HTTP_METHODS) {
    if (router.find(method as FindMyWay.HTTPMethod, path) === null) continue;
    allowed.push(method);
    if (method === 'GET') allowed.push('HEAD');
  }
  return allowed;
}
