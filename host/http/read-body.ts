import type { IncomingMessage, ServerResponse } from 'node:http';
import { ErpmodError } from '../errors';
import type { BodyBudget } from './body-budget';
import { ClientAborted } from './client-aborted';

export interface RequestBody {
  /** Parsed JSON when the request says it is JSON, else undefined. */
  readonly body: unknown;
  readonly rawBody: Buffer | undefined;
}

const NO_BODY: RequestBody = { body: undefined, rawBody: undefined };
/** A chunked body (no Content-Length) starts in a buffer this large and doubles as it grows. */
const FIRST_CHUNKED_CAPACITY = 16 * 1024;

/**
 * Reads the request body up to `limit` bytes (413 beyond, checked on Content-Length before reading a
 * byte) and parses it once when its content type is JSON (400 when malformed). Every byte is reserved in
 * the host's body budget before it is buffered — the declared length up front, a chunked body as its
 * buffer grows — and 503 ERPMOD_BUSY answers when there is no room. Bytes are copied into one buffer
 * owned by the request: keeping the socket's chunks would pin their larger read buffers, which the budget
 * would not see. A client that goes away mid-body rejects with ClientAborted.
 */
export function readBody(req: IncomingMessage, res: ServerResponse, limit: number, budget: BodyBudget): Promise<RequestBody> | RequestBody {
  const declared = req.headers['content-length'];
  if (declared === undefined && req.headers['transfer-encoding'] === undefined) return NO_BODY;
  const length = declared === undefined ? undefined : Number(declared);
  if (length !== undefined && length > limit) return Promise.reject(tooLarge(length, limit));
  if (length === 0) return NO_BODY;
  const held = { bytes: 0 };
  if (length !== undefined && !budget.reserve(res, length, held)) return Promise.reject(res.destroyed ? new ClientAborted() : budget.busyError(length));
  return new Promise((resolve, reject) => {
    let buffer = Buffer.allocUnsafe(length ?? Math.min(limit, FIRST_CHUNKED_CAPACITY));
    let size = 0;
    const refuse = (error: Error): void => {
      req.off('data', onData);
      reject(error);
    };
    const onData = (chunk: Buffer): void => {
      const needed = size + chunk.length;
      if (needed > limit) return refuse(tooLarge(needed, limit));
      if (needed > buffer.length) {
        const grown = Math.min(limit, Math.max(needed, buffer.length * 2));
        if (!budget.reserve(res, grown - held.bytes, held)) return refuse(res.destroyed ? new ClientAborted() : budget.busyError(grown - held.bytes));
        const next = Buffer.allocUnsafe(grown);
        buffer.copy(next, 0, 0, size);
        buffer = next;
      }
      chunk.copy(buffer, size);
      size = needed;
    };
    if (length === undefined && !budget.reserve(res, buffer.length, held)) return reject(res.destroyed ? new ClientAborted() : budget.busyError(buffer.length));
    req.on('data', onData);
    // Node reports a client that closed mid-body as an 'aborted' error on the request.
    req.once('error', () => reject(new ClientAborted()));
    req.once('end', () => {
      if (size === 0) return resolve(NO_BODY);
      const rawBody = size === buffer.length ? buffer : buffer.subarray(0, size);
      try {
        resolve({ body: isJson(req) ? parseJson(rawBody) : undefined, rawBody });
      } catch (error) {
        reject(error);
      }
    });
  });
}

/** The request says a body follows (a non-zero Content-Length, or chunked). */
export function announcesBody(req: IncomingMessage): boolean {
  const declared = req.headers['content-length'];
  return declared === undefined ? req.headers['transfer-encoding'] !== undefined : declared !== '0';
}

/** The content type is `application/json` or `*+json` (parameters ignored). */
export function isJson(req: IncomingMessage): boolean {
  const type = req.headers['content-type'];
  if (type === undefined) return false;
  const mime = type.split(';', 1)[0]!.trim().toLowerCase();
  return mime === 'application/json' || mime.endsWith('+json');
}

/** Deeper bodies are refused before parsing: nothing an ERP sends nests this far, and recursive code downstream (stringify, native readers) would not cope. */
export const MAX_JSON_DEPTH = 64;

function parseJson(raw: Buffer): unknown {
  const depth = nestingDepth(raw);
  if (depth > MAX_JSON_DEPTH) {
    throw new ErpmodError('ERPMOD_BAD_JSON', `expected JSON nested at most ${MAX_JSON_DEPTH} levels deep, got ${depth} levels or more`);
  }
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw new ErpmodError('ERPMOD_BAD_JSON', `expected a JSON request body, got invalid JSON: ${(error as Error).message}`, { cause: error });
  }
}

/** The deepest nesting of [ and { outside strings, stopping as soon as it passes the limit. */
function nestingDepth(raw: Buffer): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const byte = raw[i]!;
    if (inString) {
      if (byte === 0x5c) i++; // backslash: skip the escaped byte
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) {
      inString = true;
    } else if (byte === 0x5b || byte === 0x7b) {
      if (++depth > deepest) deepest = depth;
      if (deepest > MAX_JSON_DEPTH) return deepest;
    } else if (byte === 0x5d || byte === 0x7d) {
      depth--;
    }
  }
  return deepest;
}

function tooLarge(size: number, limit: number): ErpmodError {
  return new ErpmodError('ERPMOD_BODY_TOO_LARGE', `expected a request body of at most ${limit} bytes, got ${size} bytes or more`, {
    details: { limit },
  });
}
