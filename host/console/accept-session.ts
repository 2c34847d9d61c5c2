import crypto from 'node:crypto';
import type { Request } from 'express';
import { ErpmodError } from '../errors';
import { digest } from '../http/admin-guard';
import { isReadOnly } from '../http/origin-guard';
import { ConsoleSessions, cookieValue, CSRF_HEADER, SESSION_COOKIE, type ConsoleSession } from './console-session';

/** Judges a request by its console session cookie; the admin guard asks it when no bearer token came. */
export type SessionAcceptor = (req: Request) => ConsoleSession | undefined;

/**
 * A valid cookie authenticates a read. A state change needs the session's CSRF token in
 * `x-erpmod-csrf` as well: a browser attaches the cookie to requests other sites make it send, but no
 * other site can read the token or set that header without a preflight this listener never grants.
 * @throws ErpmodError ERPMOD_CSRF_REJECTED when the cookie is valid and the header is missing or wrong.
 */
export function createSessionAcceptor(sessions: ConsoleSessions): SessionAcceptor {
  return (req) => {
    const session = sessions.verify(cookieValue(req.headers.cookie, SESSION_COOKIE));
    if (session === undefined || isReadOnly(req.method)) return session;
    const sent = req.headers[CSRF_HEADER];
    if (typeof sent === 'string' && sameText(sent, session.csrf)) return session;
    throw new ErpmodError('ERPMOD_CSRF_REJECTED', `expected the console session's token in the ${CSRF_HEADER} header on a ${req.method}, got ${typeof sent === 'string' ? 'another value' : 'none'}; reload the console page, or send the admin token as a bearer token`);
  };
}

function sameText(a: string, b: string): boolean {
  return crypto.timingSafeEqual(digest(a), digest(b));
}
