import type { ServerResponse } from 'node:http';
import { ErpmodError } from '../errors';
import { addRequestId } from './add-request-id';

const JSON_TYPE = 'application/json; charset=utf-8';
const TEXT_TYPE = 'text/plain; charset=utf-8';
const BINARY_TYPE = 'application/octet-stream';

/**
 * Validates what a native handler returned (native-abi.md: `{ status?, headers?, body? }`) and writes it.
 * A malformed value is an ErpmodError(ERPMOD_BAD_RESPONSE) thrown before anything is written, so the
 * caller can still answer 500. Returns the status sent.
 */
export function writeModuleReply(res: ServerResponse, reply: unknown, requestId: string, identity: string, closeConnection: boolean): number {
  if (reply === null || typeof reply !== 'object' || Array.isArray(reply)) {
    throw badResponse(`expected the handler to return an object { status, headers, body }, got ${describe(reply)}`);
  }
  const { status = 200, headers } = reply as { status?: unknown; headers?: unknown };
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 200 || status > 599) {
    throw badResponse(`expected status to be an integer from 200 to 599, got ${JSON.stringify(status) ?? describe(status)}`);
  }
  let { body } = reply as { body?: unknown };
  if (status >= 400) body = addRequestId(body, requestId);

  let payload: string | Buffer;
  let contentType: string;
  if (body === undefined || body === null) {
    payload = '';
    contentType = '';
  } else if (typeof body === 'string') {
    payload = body;
    contentType = TEXT_TYPE;
  } else if (Buffer.isBuffer(body)) {
    payload = body;
    contentType = BINARY_TYPE;
  } else if (typeof body === 'object') {
    payload = JSON.stringify(body);
    contentType = JSON_TYPE;
  } else {
    throw badResponse(`expected body to be a string, Buffer, object or array, got ${describe(body)}`);
  }

  // Flat [name, value, ...] list: writeHead takes it without building a headers object per request.
  const list: string[] = [];
  let hasType = false;
  if (headers !== undefined && headers !== null) {
    if (typeof headers !== 'object' || Array.isArray(headers)) throw badResponse(`expected headers to be an object of strings, got ${describe(headers)}`);
    // A frozen headers object cannot change, so it is validated once: the SDK hands out one per module.
    // Asked only when a name or value is not known valid already (the usual reply asks nothing).
    let trusted: boolean | undefined;
    for (const name in headers) {
      const raw = (headers as Record<string, unknown>)[name];
      if (typeof raw !== 'string' && typeof raw !== 'number') {
        throw badResponse(`expected header "${name}" to be a string, got ${describe(raw)}`);
      }
      const value = typeof raw === 'string' ? raw : String(raw);
      // A module built in C hands out a fresh headers object per reply, with the same names and values
      // every time: the last value seen valid for a name is remembered, so they are checked once, not per reply.
      let known = SEEN_HEADERS.get(name);
      if (known === undefined || known.value !== value) {
        trusted ??= VALIDATED_FROZEN.has(headers);
        if (known === undefined || !trusted) {
          if (!trusted && !isValidHeader(name, value)) throw badResponse(`header "${name}" has a name or value HTTP does not allow`);
          known = { lower: name.toLowerCase(), value };
          if (SEEN_HEADERS.size >= SEEN_HEADERS_LIMIT) SEEN_HEADERS.clear();
          SEEN_HEADERS.set(name, known);
        }
      }
      const lower = known.lower;
      if (lower === 'content-length' || lower === 'connection' || lower === 'transfer-encoding') continue;
      if (lower === 'content-type') hasType = true;
      list.push(name, value);
    }
    if (trusted === false && Object.isFrozen(headers)) VALIDATED_FROZEN.add(headers);
  }
  if (!hasType && contentType !== '') list.push('content-type', contentType);
  list.push('content-length', String(typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length), 'x-request-id', requestId, 'x-erpmod-module', identity);
  if (closeConnection) list.push('connection', 'close');
  res.writeHead(status, list);
  res.end(payload);
  return status;
}

const VALIDATED_FROZEN = new WeakSet<object>();
/** Header name → its lower-case form and the last value checked valid with it (names of every module, bounded). */
const SEEN_HEADERS = new Map<string, { readonly lower: string; readonly value: string }>();
const SEEN_HEADERS_LIMIT = 512;
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Visible ASCII, tabs and spaces, and obs-text; no CR, LF or NUL (response splitting).
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

function isValidHeader(name: string, value: string): boolean {
  return TOKEN.test(name) && FIELD_VALUE.test(value);
}

function badResponse(message: string): ErpmodError {
  return new ErpmodError('ERPMOD_BAD_RESPONSE', message);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
