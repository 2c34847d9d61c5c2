/**
 * `erpmod install --reload`: asks a running host's admin listener to reload a module
 * (`POST /plugins/<code>/reload` with the admin token) and turns its answer into one line. A module new to the host is found in the host's modules directory and
 * loaded by the same reload; installed anywhere else, the host cannot find it, and the answer says so.
 */

import { ErpmodError } from '../errors';

export interface ReloadRequest {
  /** The admin listener's URL. */
  readonly hostUrl: string;
  readonly code: string;
  readonly adminToken?: string;
  readonly timeoutMs?: number;
}

export type ReloadAnswer =
  | { readonly ok: true; readonly status: number; readonly summary: string; readonly body: Record<string, unknown> }
  | { readonly ok: false; readonly status: number; readonly errorCode: string; readonly summary: string };

/**
 * @throws ErpmodError ERPMOD_HOST_UNREACHABLE when nothing answers at the URL (or not within the timeout).
 */
export async function requestReload(request: ReloadRequest): Promise<ReloadAnswer> {
  const url = `${request.hostUrl.replace(/\/+$/, '')}/plugins/${encodeURIComponent(request.code)}/reload`;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (request.adminToken !== undefined) headers.authorization = `Bearer ${request.adminToken}`;
  let response: Response;
  let text: string;
  try {
    response = await fetch(url, { method: 'POST', headers, signal: AbortSignal.timeout(request.timeoutMs ?? 120_000) });
    text = await response.text();
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new ErpmodError('ERPMOD_HOST_UNREACHABLE', `POST ${url}: no erpmod host answered (${cause}); is it running, and is --admin-url right?`, { cause: error });
  }
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // Not JSON: summarised below from the status alone.
  }
  if (response.ok) {
    const generation = body.generation === undefined ? '' : `, generation ${String(body.generation)}`;
    const from = body.previousVersion === undefined || body.previousVersion === null ? '' : `${String(body.previousVersion)} -> `;
    return { ok: true, status: response.status, body, summary: `the host reloaded ${request.code}: ${from}${String(body.version ?? '?')}${generation}` };
  }
  const error = (body.error ?? {}) as { code?: unknown; message?: unknown };
  const errorCode = typeof error.code === 'string' ? error.code : `HTTP_${response.status}`;
  const message = typeof error.message === 'string' ? error.message : text.slice(0, 200);
  const summary = response.status === 404 && errorCode === 'ERPMOD_NOT_FOUND'
    ? `the host found no module ${request.code} in its modules directory: install into the directory the host serves (--modules-dir, or its configuration)`
    : errorCode === 'ERPMOD_UNAUTHORIZED'
      ? `the host refused to reload ${request.code}: ${errorCode}: ${message} (pass --admin-token, set ERPMOD_ADMIN_TOKEN, or --data-dir where the host keeps its admin-token file)`
      : `the host refused to reload ${request.code}: ${errorCode}: ${message}`;
  return { ok: false, status: response.status, errorCode, summary };
}
