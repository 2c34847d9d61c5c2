import type { IncomingMessage } from 'node:http';
import { lineWriter, type Logger } from '../logger';

/** `access_log_level`: the level module requests are logged at, or `off`. */
export const ACCESS_LOG_LEVELS = ['off', 'info', 'debug', 'trace'] as const;
export type AccessLogLevel = (typeof ACCESS_LOG_LEVELS)[number];

/** Writes one line for a module request that was answered, refused or abandoned. */
export type AccessLog = (req: IncomingMessage, status: number, durationMs: number, module: string, version: string | undefined, requestId: string) => void;

/** Lines are written together once this many bytes wait, or when the oldest has waited FLUSH_AFTER_MS. */
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
 * Each line is the JSON pino would write (same level number, time format, pid, message), but built
 * here and written to the logger's destination in batches, at most FLUSH_AFTER_MS apart: through
 * `logger.info` a line cost 5–10 µs (serialising, a time string, one write per line), a quarter of
 * the CPU a light request takes; batched and with the time string made once per millisecond it is a
 * small fraction of that (bench/internal/access-log-cost.ts measures it). The path is logged without its query string, which may
 * carry personal data; the request id finds the request's other lines.
 */
export function createAccessLog(logger: Logger, level: AccessLogLevel): AccessLog | undefined {
  if (level === 'off' || !logger.isLevelEnabled(level)) return undefined;
  const write = lineWriter(logger);
  const head = `{"level":${logger.levels.values[level]},"time":"`;
  const pid = `","pid":${process.pid},"access":true,"method":"`;
  // Lines wait as bytes in one buffer outside the JavaScript heap: strings held for a batch would be
  // copied by every young-generation collection in between, which cost more than the lines themselves.
  const buffer = Buffer.allocUnsafe(FLUSH_AT_BYTES);
  let used = 0;
  let scheduled: NodeJS.Timeout | undefined;
  const flush = (): void => {
    if (scheduled !== undefined) clearTimeout(scheduled);
    scheduled = undefined;
    if (used === 0) return;
    const text = buffer.toString('utf8', 0, used);
    used = 0;
    write(text);
  };
  const append = (line: string): void => {
    // A UTF-16 unit is at most 3 bytes of UTF-8: room is checked before writing, never after.
    if (used + line.length * 3 > FLUSH_AT_BYTES) {
      flush();
      if (line.length * 3 > FLUSH_AT_BYTES) return write(line);
    }
    used += buffer.write(line, used, 'utf8');
    // Unreferenced: a host with nothing else to do exits (and the exit handler writes what waits).
    if (scheduled === undefined) scheduled = setTimeout(flush, FLUSH_AFTER_MS).unref();
  };
  // Lines still waiting must not be lost when the process exits (a crash loses up to FLUSH_AFTER_MS of them).
  process.once('exit', flush);
  let lastMs = 0;
  let lastTime = '';
  return (req, status, durationMs, module, version, requestId) => {
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      lastTime = new Date(now).toISOString();
    }
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    const ms = millisecondsText(durationMs);
    // The method is a token (Node checks it), module and version passed the manifest schema, the request id its pattern: only the path needs escaping,
    // once: the message is the same escaped path between characters that need none.
    const quoted = JSON.stringify(path);
    append(`${head}${lastTime}${pid}${req.method}","path":${quoted},"status":${status},"durationMs":${ms},"module":"${module}",${
      version === undefined ? '' : `"version":"${version}",`
    }"requestId":"${requestId}","msg":"${req.method} ${quoted.slice(1, -1)} ${status} ${ms} ms"}\n`);
  };
}

/**
 * `String(Math.round(ms * 1000) / 1000)` for the durations a request takes (0 up to days), from
 * integers: a double's shortest decimal form costs a few hundred ns, and the line needs it twice.
 */
export function millisecondsText(ms: number): string {
  const micros = Math.round(ms * 1000);
  if (!(micros >= 0 && micros < 2 ** 31)) return String(micros / 1000);
  const whole = (micros / 1000) | 0;
  const fraction = micros - whole * 1000;
  if (fraction === 0) return `${whole}`;
  if (fraction % 100 === 0) return `${whole}.${fraction / 100}`;
  if (fraction % 10 === 0) return `${whole}.${fraction < 100 ? '0' : ''}${fraction / 10}`;
  return `${whole}.${fraction < 10 ? '00' : fraction < 100 ? '0' : ''}${fraction}`;
}
