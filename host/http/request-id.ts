import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const ACCEPTED_ID = /^[A-Za-z0-9._:-]{1,128}$/;
// A random per-process prefix plus a counter: unique across workers and restarts, and far cheaper than a UUID per request.
const prefix = crypto.randomBytes(4).toString('hex');
let counter = 0;

/** The caller's `x-request-id` when it is a sane token, otherwise a fresh one. */
export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  if (typeof given === 'string' && ACCEPTED_ID.test(given)) return given;
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER;
  return `${prefix}-${counter.toString(36)}`;
}
