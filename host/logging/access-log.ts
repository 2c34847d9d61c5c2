import type { IncomingMessage } from 'node:http';
import { lineBytesWriter, type Logger } from '../logger';
import { LineParts, ModuleParts } from './access-line-parts';
import { jsonStringBound, writeAscii, writeBytes, writeJsonStringBody, writeMilliseconds } from './json-bytes';

/** `access_log_level`: the level module requests are logged at, or `off`. */
export const ACCESS_LOG_LEVELS = ['off', 'info', 'debug', 'trace'] as const;
export type AccessLogLevel = (typeof ACCESS_LOG_LEVELS)[number];

/**
 * Writes one line for a module request that was answered, refused or abandoned. `endedAt` is when it
 * ended, on `performance.now()`'s clock (the dispatcher reads that clock for the duration anyway).
 */
export type AccessLog = (req: IncomingMessage, status: number, durationMs: number, endedAt: number, module: string, version: string | undefined, requestId: string) => void;

/** The access log and its end: `close()` writes what waits and from then on writes each line at once. */
export interface AccessLogWriter {
  readonly log: AccessLog;
  close(): void;
}

/** The batch's buffer: a write to the destination once this many bytes are encoded (about LINES_PER_BATCH usual lines). */
const FLUSH_AT_BYTES = 64 * 1024;
/**
 * Each write to the destination is a system call that also wakes its reader (a pipe to a log
 * collector, a terminal): once per event-loop turn that was most of the log's cost under load (13% of
 * a light request's CPU in a profile), once per 20 ms it is a few hundred lines per write. While
 * requests come, the one that ends this long after the batch's first line writes the batch.
 */
export const FLUSH_AFTER_MS = 20;
/**
 * For when requests stop coming: a line that finds no timer armed arms one, which writes what waits
 * this long after. A timer armed for every batch (every FLUSH_AFTER_MS under load) cost one to three
 * points of a light request's CPU in paired rounds against one armed this rarely (docs/benchmarks.md).
 */
export const IDLE_FLUSH_MS = 200;

/**
 * The access log, or undefined when it is off or below the logger's level: the dispatcher then skips it
 * with one check and builds nothing.
 *
 * Each line is the JSON pino would write (same level number, time format, pid, message). A request only
 * leaves its fields behind (WaitingRequests); every FLUSH_AFTER_MS while requests come (IDLE_FLUSH_MS
 * once they stop), or when LINES_PER_BATCH wait, the batch is encoded in one loop into a buffer outside
 * the JavaScript heap (parts encoded once copied in, the path escaped byte by byte:
 * host/logging/json-bytes.ts), and handed to the logger's destination. Through `logger.info` a line
 * cost 5–10 µs; built as a string per request, 1.3 µs inside a busy server against 0.58 µs in a loop of
 * its own — the difference is what encoding whole batches wins (docs/benchmarks.md, "The access log,
 * settled"; bench/internal/access-log-cost.ts measures it). The path is logged without its query string,
 * which may carry personal data; the request id finds the request's other lines.
 */
export function createAccessLog(logger: Logger, level: AccessLogLevel): AccessLogWriter | undefined {
  if (level === 'off' || !logger.isLevelEnabled(level)) return undefined;
  const write = lineBytesWriter(logger);
  const lineParts = new LineParts(logger.levels.values[level]!);
  const buffer = Buffer.allocUnsafe(FLUSH_AT_BYTES);
  const moduleParts = new ModuleParts();
  const waiting = new WaitingRequests(LINES_PER_BATCH);
  let idleTimer: NodeJS.Timeout | undefined;

  // A line is a few copies of parts encoded once (LineParts, ModuleParts) around the fields that differ
  // per request: each copy costs about as much as a dozen bytes written one by one.
  const encode = (into: Buffer, at: number, ms: number, method: string, path: string, status: number, durationMs: number, moduleBytes: Uint8Array, requestId: string): number => {
    const methodParts = lineParts.forMethod(method);
    at = methodParts.writeHead(into, at, ms);
    const pathStart = at;
    at = writeJsonStringBody(into, at, path);
    const pathEnd = at;
    const statusParts = lineParts.forStatus(status);
    at = writeBytes(into, at, statusParts.field);
    const msStart = at;
    at = writeMilliseconds(into, at, durationMs);
    const msEnd = at;
    at = writeBytes(into, at, moduleBytes);
    at = writeAscii(into, at, requestId);
    // The message repeats the method, the escaped path, the status and the duration text: copied, not encoded again.
    at = writeBytes(into, at, methodParts.message);
    into.copyWithin(at, pathStart, pathEnd);
    at += pathEnd - pathStart;
    at = writeBytes(into, at, statusParts.message);
    for (let i = msStart; i < msEnd; i++) into[at++] = into[i]!;
    return writeBytes(into, at, LINE_END);
  };

  // The method is a token (Node checks it), module and version passed the manifest schema, the request
  // id its pattern: they are written as they are; only the path is escaped.
  const flush = (): void => {
    let used = 0;
    // performance.now()'s clock to the wall clock, taken again per batch so that it follows the wall clock's adjustments.
    const wallOffset = Date.now() - performance.now();
    for (let i = 0; i < waiting.count; i++) {
      const ms = Math.floor(wallOffset + waiting.times[i]!);
      const url = waiting.urls[i]!;
      const queryAt = url.indexOf('?');
      const path = queryAt === -1 ? url : url.slice(0, queryAt);
      const method = waiting.methods[i]!;
      const moduleBytes = waiting.modules[i]!;
      const requestId = waiting.requestIds[i]!;
      const room = LINE_FIXED_BYTES + 2 * method.length + 2 * jsonStringBound(path) + moduleBytes.length + requestId.length;
      if (used + room > FLUSH_AT_BYTES) {
        if (used > 0) write(buffer, used);
        used = 0;
        if (room > FLUSH_AT_BYTES) {
          // A line longer than the batch (a path of tens of kilobytes) goes alone.
          const alone = Buffer.allocUnsafe(room);
          write(alone, encode(alone, 0, ms, method, path, waiting.statuses[i]!, waiting.durations[i]!, moduleBytes, requestId));
          continue;
        }
      }
      used = encode(buffer, used, ms, method, path, waiting.statuses[i]!, waiting.durations[i]!, moduleBytes, requestId);
    }
    waiting.clear();
    if (used > 0) write(buffer, used);
  };
  // Lines still waiting must not be lost when the process exits (a crash loses up to IDLE_FLUSH_MS of them).
  process.once('exit', flush);
  let closed = false;
  const flushWhenIdle = (): void => {
    idleTimer = undefined;
    flush();
  };

  return {
    log: (req, status, durationMs, endedAt, module, version, requestId) => {
      if (waiting.add(req.method!, req.url ?? '/', status, durationMs, moduleParts.of(module, version), requestId, endedAt) || closed || endedAt - waiting.times[0]! >= FLUSH_AFTER_MS) return flush();
      // Unreferenced: a host with nothing else to do exits (and the exit handler writes what waits).
      if (idleTimer === undefined) idleTimer = setTimeout(flushWhenIdle, IDLE_FLUSH_MS).unref();
    },
    // A host closed inside a process that lives on (an embedding application, a test) leaves no
    // listener or timer behind holding the batch's buffer; a request that still ends afterwards is written at once.
    close: () => {
      closed = true;
      clearTimeout(idleTimer);
      idleTimer = undefined;
      flush();
      process.removeListener('exit', flush);
    },
  };
}

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
