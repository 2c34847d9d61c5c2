import type { IncomingMessage } from 'node:http';
import { ErpmodError } from '../errors';

export interface RequestBody {
  /** Parsed JSON when the request says it is JSON, else undefined. */
  readonly body: unknown;
  readonly rawBody: Buffer | undefined;
}

const NO_BODY: RequestBody = { body: undefined, rawBody: undefined };

/**
 * Reads the request body up to `limit` bytes (413 beyond, checked on Content-Length before reading a
 * byte) and parses it once when its content type is JSON (400 when malformed).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<RequestBody> | RequestBody {
  const declared = req.headers['content-length'];
  if (declared === undefined && req.headers['transfer-encoding'] === undefined) return NO_BODY;
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.reject(tooLarge(Number(declared), limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        req.off('data', onData);
        reject(tooLarge(size, limit));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('error', reject);
    req.once('end', () => {
      if (size > limit) return;
      if (size === 0) return resolve(NO_BODY);
      const rawBody = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      try {
        resolve({ body: isJson(req) ? parseJson(rawBody) : undefined, rawBody });
      } catch (error) {
        reject(error);
      }
    });
  });
}

function isJson(req: IncomingMessage): boolean {
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
