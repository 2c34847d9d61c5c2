import type { ServerResponse } from 'node:http';
import { ERROR_DEFINITIONS, type ErrorCode } from '../errors';

/**
 * Writes the one JSON error shape every erpmod route shares:
 * `{ "error": { "code": "ERPMOD_…", "message": "…", "requestId": "…" } }`.
 */
export function sendError(
  res: ServerResponse,
  code: ErrorCode,
  message: string,
  requestId: string,
  extra?: Record<string, unknown>,
): void {
  if (res.headersSent) {
    // Nothing sensible can be written any more; end the stream so the client is not left waiting.
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: { code, message, requestId, ...extra } });
  res.writeHead(ERROR_DEFINITIONS[code].status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-request-id': requestId,
  });
  res.end(body);
}
