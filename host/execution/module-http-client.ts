import { ErpmodError, type ErrorCode } from '../errors';

/** What a module passes to ctx.http.request (the SDK's HttpRequest). */
export interface ModuleHttpRequest {
  readonly method?: string;
  readonly url: string;
  readonly headers?: Record<string, string>;
  readonly body?: Uint8Array | string;
  readonly timeoutMs?: number;
}

export interface ModuleHttpResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

export interface ModuleHttpClientOptions {
  readonly code: string;
  /** module.yml `http.allow`: lower-case `host:port`. */
  readonly allow: readonly string[];
  /** Used when a request names no timeout: the module's timeouts.request_ms. */
  readonly defaultTimeoutMs: number;
  readonly maxResponseBytes: number;
}

/**
 * `ctx.http` for one module: fetch (undici, shipped with Node) on the JavaScript thread, limited to the
 * module's allow-list, bounded in time and size, redirects not followed (a redirect could leave the
 * allow-list). Every failure rejects with an ErpmodError whose code the SDK turns into HttpClientError.
 */
export function createModuleHttpClient(options: ModuleHttpClientOptions): { request(request: ModuleHttpRequest): Promise<ModuleHttpResponse> } {
  const allowed = new Set(options.allow);
  return Object.freeze({
    async request(request: ModuleHttpRequest): Promise<ModuleHttpResponse> {
      const url = allowedUrl(options, allowed, request?.url);
      const timeoutMs = typeof request.timeoutMs === 'number' && request.timeoutMs > 0 ? request.timeoutMs : options.defaultTimeoutMs;
      const signal = AbortSignal.timeout(timeoutMs);
      const method = (request.method ?? 'GET').toUpperCase();
      try {
        const response = await fetch(url, {
          method,
          headers: request.headers ?? {},
          body: method === 'GET' || method === 'HEAD' || request.body === undefined ? undefined : request.body,
          redirect: 'manual',
          signal,
        });
        const body = await readBounded(response, options, url);
        const headers: Record<string, string> = {};
        response.headers.forEach((value, name) => {
          headers[name] = value;
        });
        return { status: response.status, headers, body };
      } catch (error) {
        throw translate(error, options, url, timeoutMs, signal);
      }
    },
  });
}

function allowedUrl(options: ModuleHttpClientOptions, allowed: ReadonlySet<string>, raw: unknown): URL {
  let url: URL;
  try {
    url = new URL(String(raw));
  } catch {
    throw notAllowed(options, `expected an absolute http(s) URL, got ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw notAllowed(options, `expected an http: or https: URL, got ${url.protocol}`);
  const port = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80';
  const target = `${url.hostname.toLowerCase()}:${port}`;
  if (!allowed.has(target)) {
    throw notAllowed(options, `${target} is not in module.yml http.allow (allowed: ${[...allowed].join(', ') || 'none'})`);
  }
  return url;
}

async function readBounded(response: Response, options: ModuleHttpClientOptions, url: URL): Promise<Buffer> {
  if (response.body === null) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > options.maxResponseBytes) {
      await reader.cancel();
      throw new ErpmodError('ERPMOD_HTTP_RESPONSE_TOO_LARGE', `module "${options.code}": the response from ${url.host} exceeded ${options.maxResponseBytes} bytes (http_max_response_bytes)`);
    }
    chunks.push(Buffer.from(value));
  }
  return Buffer.concat(chunks, size);
}

function translate(error: unknown, options: ModuleHttpClientOptions, url: URL, timeoutMs: number, signal: AbortSignal): ErpmodError {
  if (error instanceof ErpmodError) return withReason(error, error.code);
  if (signal.aborted) {
    return withReason(new ErpmodError('ERPMOD_HTTP_TIMEOUT', `module "${options.code}": ${url.host} sent no complete response within ${timeoutMs} ms`, { cause: error }), 'timeout');
  }
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  const reason = typeof cause?.code === 'string' ? cause.code : error instanceof Error ? error.message : String(error);
  const detail = typeof cause?.message === 'string' ? cause.message : reason;
  return withReason(new ErpmodError('ERPMOD_HTTP_UNREACHABLE', `module "${options.code}": ${url.host} could not be reached: ${detail}`, { cause: error }), reason);
}

/** The SDK reads `reason` (why) next to `code` (which ERPMOD_HTTP_* error). */
function withReason(error: ErpmodError, reason: string): ErpmodError {
  Object.defineProperty(error, 'reason', { value: reason, enumerable: false });
  return error;
}

function notAllowed(options: ModuleHttpClientOptions, why: string): ErpmodError {
  const code: ErrorCode = 'ERPMOD_HTTP_NOT_ALLOWED';
  return new ErpmodError(code, `module "${options.code}": ctx.http refused: ${why}`);
}
