import net from 'node:net';
import type { NextFunction, Request, Response } from 'express';
import { ErpmodError } from '../errors';

/**
 * A listener on loopback is reached by name only as localhost or a loopback address. Any other Host
 * header means a page from another site whose name was pointed at 127.0.0.1 (DNS rebinding): its
 * requests would otherwise be same-origin to the browser. Returns undefined when the listener is not on
 * loopback (then names are the deployment's business and the token is the whole story).
 */
export function createHostHeaderGuard(listenHost: string) {
  if (!isLoopbackName(listenHost)) return undefined;
  return (req: Request, _res: Response, next: NextFunction): void => {
    const host = req.headers.host;
    if (host !== undefined && isLoopbackName(hostnameOf(host))) return next();
    next(new ErpmodError('ERPMOD_FORBIDDEN', `expected a Host header naming localhost or a loopback address (this listener is on ${listenHost}), got ${JSON.stringify(host ?? null)}`));
  };
}

/** `name`, `name:port`, `[v6]` or `[v6]:port` → the name or address alone. */
function hostnameOf(header: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(header);
  if (bracketed !== null) return bracketed[1]!;
  return header.replace(/:\d+$/, '');
}

export function isLoopbackName(name: string): boolean {
  const lower = name.toLowerCase().replace(/\.$/, '');
  if (lower === 'localhost' || lower.endsWith('.localhost')) return true;
  if (net.isIPv4(lower)) return lower.startsWith('127.');
  if (net.isIPv6(lower)) return lower === '::1' || /^::ffff:127\./.test(lower);
  return false;
}
