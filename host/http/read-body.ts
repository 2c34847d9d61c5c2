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

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (error) {
    throw new ErpmodError('ERPMOD_BAD_JSON', `expected a JSON request body, got invalid JSON: ${(error as Error).message}`, { cause: error });
  }
}

function tooLarge(size: number, limit: number): ErpmodError {
  return new ErpmodError('ERPMOD_BODY_TOO_LARGE', `expected a request body of at most ${limit} bytes, got ${size} bytes or more`, {
    details: { limit },
  });
}
