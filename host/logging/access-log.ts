import type { IncomingMessage } from 'node:http';
import { lineWriter, type Logger } from '../logger';
import { jsonStringBound, writeAscii, writeBytes, writeJsonStringBody, writeMilliseconds, writeUnsigned } from './json-bytes';

/** `access_log_level`: the level module requests are logged at, or `off`. */
export const ACCESS_LOG_LEVELS = ['off', 'info', 'debug', 'trace'] as const;
export type AccessLogLevel = (typeof ACCESS_LOG_LEVELS)[number];

/**
 * Writes one line for a module request that was answered, refused or abandoned. `endedAt` is when it
 * ended, on `performance.now()`'s clock (the dispatcher reads that clock for the duration anyway).
 */
export type AccessLog = (req: IncomingMessage, status: number, durationMs: number, endedAt: number, module: string, version: string | undefined, requestId: string) => void;

/** The batch's buffer: a write to the destination once this many bytes are encoded (about LINES_PER_BATCH usual lines). */
const FLUSH_AT_BYTES = 64 * 1024;
/**
 * Each write to the destination is a system call that also wakes its reader (a pipe to a log
 * collector, a terminal): once per event-loop turn that was most of the log's cost under load (13% of
 * a light request's CPU in a profile), once per 20 ms it is a few hundred lines per write.
 */
export const FLUSH_AFTER_MS = 20;

/**
 * The access log, or undefined when it is off or below the logger's level: the dispatcher then skips it
 * with one check and builds nothing.
 *
 * Each line is the JSON pino would write (same level number, time format, pid, message). A request only
 * leaves its fields behind (WaitingRequests); every FLUSH_AFTER_MS, or when LINES_PER_BATCH wait, the
 * batch is encoded in one loop, byte by byte into a buffer outside the JavaScript heap
 * (host/logging/json-bytes.ts), and handed to the logger's destination. Through `logger.info` a line
 * cost 5–10 µs; built as a string per request, 1.3 µs inside a busy server against 0.58 µs in a loop of
 * its own — the difference is what encoding whole batches wins (docs/benchmarks.md, "The access log,
 * settled"; bench/internal/access-log-cost.ts measures it). The path is logged without its query string,
 * which may carry personal data; the request id finds the request's other lines.
 */
export function createAccessLog(logger: Logger, level: AccessLogLevel): AccessLog | undefined {
  if (level === 'off' || !logger.isLevelEnabled(level)) return undefined;
  const write = lineWriter(logger);
  const head = Buffer.from(`{"level":${logger.levels.values[level]},"time":"`);
  const afterTime = Buffer.from(`","pid":${process.pid},"access":true,"method":"`);
  const buffer = Buffer.allocUnsafe(FLUSH_AT_BYTES);
  const moduleParts = new ModuleParts();
  const waiting = new WaitingRequests(LINES_PER_BATCH);
  let scheduled: NodeJS.Timeout | undefined;
  let lastMs = 0;
  let time = Buffer.alloc(0);

  const encode = (into: Buffer, at: number, method: string, path: string, status: number, durationMs: number, moduleBytes: Uint8Array, requestId: string): number => {
    at = writeBytes(into, at, head);
    at = writeBytes(into, at, time);
    at = writeBytes(into, at, afterTime);
    at = writeAscii(into, at, method);
    at = writeBytes(into, at, PATH_KEY);
    const pathStart = at;
    at = writeJsonStringBody(into, at, path);
    const pathEnd = at;
    at = writeBytes(into, at, STATUS_KEY);
    at = writeUnsigned(into, at, status);
    at = writeBytes(into, at, DURATION_KEY);
    const msStart = at;
    at = writeMilliseconds(into, at, durationMs);
    const msEnd = at;
    at = writeBytes(into, at, moduleBytes);
    at = writeAscii(into, at, requestId);
    at = writeBytes(into, at, MESSAGE_KEY);
    at = writeAscii(into, at, method);
    into[at++] = 0x20;
    // The message repeats the escaped path and the duration text: copied, not encoded again.
    for (let i = pathStart; i < pathEnd; i++) into[at++] = into[i]!;
    into[at++] = 0x20;
    at = writeUnsigned(into, at, status);
    into[at++] = 0x20;
    for (let i = msStart; i < msEnd; i++) into[at++] = into[i]!;
    return writeBytes(into, at, LINE_END);
  };

  // The method is a token (Node checks it), module and version passed the manifest schema, the request
  // id its pattern: they are written as they are; only the path is escaped.
  const flush = (): void => {
    if (scheduled !== undefined) clearTimeout(scheduled);
    scheduled = undefined;
    let used = 0;
    // performance.now()'s clock to the wall clock, taken again per batch so that it follows the wall clock's adjustments.
    const wallOffset = Date.now() - performance.now();
    for (let i = 0; i < waiting.count; i++) {
      const ms = Math.floor(wallOffset + waiting.times[i]!);
      if (ms !== lastMs) {
        lastMs = ms;
        time = Buffer.from(new Date(ms).toISOString(), 'latin1');
      }
      const url = waiting.urls[i]!;
      const queryAt = url.indexOf('?');
      const path = queryAt === -1 ? url : url.slice(0, queryAt);
      const method = waiting.methods[i]!;
      const moduleBytes = waiting.modules[i]!;
      const requestId = waiting.requestIds[i]!;
      const room = LINE_FIXED_BYTES + 2 * method.length + 2 * jsonStringBound(path) + moduleBytes.length + requestId.length;
      if (used + room > FLUSH_AT_BYTES) {
        if (used > 0) write(buffer.toString('utf8', 0, used));
        used = 0;
        if (room > FLUSH_AT_BYTES) {
          // A line longer than the batch (a path of tens of kilobytes) goes alone.
          const alone = Buffer.allocUnsafe(room);
          write(alone.toString('utf8', 0, encode(alone, 0, method, path, waiting.statuses[i]!, waiting.durations[i]!, moduleBytes, requestId)));
          continue;
        }
      }
      used = encode(buffer, used, method, path, waiting.statuses[i]!, waiting.durations[i]!, moduleBytes, requestId);
    }
    waiting.clear();
    if (used > 0) write(buffer.toString('utf8', 0, used));
  };
  // Lines still waiting must not be lost when the process exits (a crash loses up to FLUSH_AFTER_MS of them).
  process.once('exit', flush);

  return (req, status, durationMs, endedAt, module, version, requestId) => {
    if (waiting.add(req.method!, req.url ?? '/', status, durationMs, moduleParts.of(module, version), requestId, endedAt)) return flush();
    // Unreferenced: a host with nothing else to do exits (and the exit handler writes what waits).
    if (scheduled === undefined) scheduled = setTimeout(flush, FLUSH_AFTER_MS).unref();
  };
}

const PATH_KEY = Buffer.from('","path":"');
const STATUS_KEY = Buffer.from('","status":');
const DURATION_KEY = Buffer.from(',"durationMs":');
const MESSAGE_KEY = Buffer.from('","msg":"');
const LINE_END = Buffer.from(' ms"}\n');

/** Requests logged at most per batch: about FLUSH_AT_BYTES of usual lines. */
const LINES_PER_BATCH = 256;

/**
 * What a line needs, kept per request until the batch is written: a few stores per request, and the
 * encoding of a whole batch in one loop, where it runs several times faster than spread between requests
 * (its code and data stay in the caches). The strings kept are the request's own (URL, method, id).
 */
class WaitingRequests {
  count = 0;
  readonly methods: string[];
  readonly urls: string[];
  readonly requestIds: string[];
  readonly modules: Uint8Array[];
  readonly statuses: Int32Array;
  readonly durations: Float64Array;
  /** When each request ended, on performance.now()'s clock. */
  readonly times: Float64Array;

  constructor(private readonly capacity: number) {
    this.methods = new Array<string>(capacity).fill('');
    this.urls = new Array<string>(capacity).fill('');
    this.requestIds = new Array<string>(capacity).fill('');
    this.modules = new Array<Uint8Array>(capacity).fill(new Uint8Array(0));
    this.statuses = new Int32Array(capacity);
    this.durations = new Float64Array(capacity);
    this.times = new Float64Array(capacity);
  }

  /** Returns true when the batch is full. */
  add(method: string, url: string, status: number, durationMs: number, module: Uint8Array, requestId: string, endedAt: number): boolean {
    const i = this.count++;
    this.methods[i] = method;
    this.urls[i] = url;
    this.requestIds[i] = requestId;
    this.modules[i] = module;
    this.statuses[i] = status;
    this.durations[i] = durationMs;
    this.times[i] = endedAt;
    return this.count === this.capacity;
  }

  clear(): void {
    this.count = 0;
  }
}

/** Bytes of a line other than the method, path, module part and request id, with room to spare. */
const LINE_FIXED_BYTES = 256;

/**
 * `","module":"<code>","version":"<version>","requestId":"` per module, encoded once per version (a
 * reload to another version encodes the new one).
 */
class ModuleParts {
  private readonly byModule = new Map<string, { readonly version: string | undefined; readonly bytes: Uint8Array }>();

  of(module: string, version: string | undefined): Uint8Array {
    const known = this.byModule.get(module);
    if (known !== undefined && known.version === version) return known.bytes;
    const bytes = Buffer.from(`,"module":"${module}",${version === undefined ? '' : `"version":"${version}",`}"requestId":"`);
    this.byModule.set(module, { version, bytes });
    return bytes;
  }
}
