import type { IncomingMessage } from 'node:http';
import { lineWriter, type Logger } from '../logger';

/** `access_log_level`: the level module requests are logged at, or `off`. */
export const ACCESS_LOG_LEVELS = ['off', 'info', 'debug', 'trace'] as const;
export type AccessLogLevel = (typeof ACCESS_LOG_LEVELS)[number];

/** Writes one line for a module request that was answered, refused or abandoned. */
export type AccessLog = (req: IncomingMessage, status: number, durationMs: number, module: string, version: string | undefined, requestId: string) => void;

/** Lines are written together once this much text waits, or at the end of the event-loop turn. */
const FLUSH_AT_CHARS = 64 * 1024;

/**
 * The access log, or undefined when it is off or below the logger's level: the dispatcher then skips it
 * with one check and builds nothing.
 *
 * Each line is the JSON pino would write (same level number, time format, pid, message), but built
 * here and written to the logger's destination in batches, once per event-loop turn: through
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
  let pending = '';
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (pending === '') return;
    const text = pending;
    pending = '';
    write(text);
  };
  // Lines of the last turn must not be lost when the process exits on purpose.
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
    const ms = Math.round(durationMs * 1000) / 1000;
    // The method is a token (Node checks it), module and version passed the manifest schema, the request id its pattern: only the path needs escaping.
    pending += `${head}${lastTime}${pid}${req.method}","path":${JSON.stringify(path)},"status":${status},"durationMs":${ms},"module":"${module}",${
      version === undefined ? '' : `"version":"${version}",`
    }"requestId":"${requestId}","msg":${JSON.stringify(`${req.method} ${path} ${status} ${ms} ms`)}}\n`;
    if (pending.length >= FLUSH_AT_CHARS) flush();
    else if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
}
