/**
 * Module error bodies carry the request id as the host's do. The SDK's Response::Error writes
 * `{"error":{"code":…,"message":…[,"fields":…]}}` as JSON text; a body of that shape, as text or as an
 * object, gets `requestId` added to its `error` object unless it has one. Done here, not in the SDK, so
 * binaries built before keep working and gain it too. Only replies with a 4xx/5xx status are looked at,
 * and text is parsed only when it starts like that shape: the success path pays nothing.
 */
export function addRequestId(body: unknown, requestId: string): unknown {
  if (typeof body === 'string') {
    if (!body.startsWith(ERROR_PREFIX)) return body;
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return body;
    }
    const added = addToObject(parsed, requestId);
    return added === parsed ? body : JSON.stringify(added);
  }
  return addToObject(body, requestId);
}

const ERROR_PREFIX = '{"error":{';

function addToObject(body: unknown, requestId: string): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const error = (body as { error?: unknown }).error;
  if (error === null || typeof error !== 'object' || Array.isArray(error)) return body;
  const fields = error as Record<string, unknown>;
  if (typeof fields.code !== 'string' || 'requestId' in fields) return body;
  // A copy: the module may hand out the same object for every request.
  return { ...(body as object), error: { ...fields, requestId } };
}
