import type { IncomingMessage } from 'node:http';
import type { Logger } from '../logger';

/** `access_log_level`: the level module requests are logged at, or `off`. */
export const ACCESS_LOG_LEVELS = ['off', 'info', 'debug', 'trace'] as const;
export type AccessLogLevel = (typeof ACCESS_LOG_LEVELS)[number];

/** Writes one line for a module request that was answered, refused or abandoned. */
export type AccessLog = (req: IncomingMessage, status: number, durationMs: number, module: string, version: string | undefined, requestId: string) => void;

/**
 * The access log, or undefined when it is off or below the logger's level: the dispatcher then skips it
 * with one check and builds nothing. The path is logged without its query string, which may carry
 * personal data; the request id finds the rest of the request's lines.
 */
export function createAccessLog(logger: Logger, level: AccessLogLevel): AccessLog | undefined {
  if (level === 'off' || !logger.isLevelEnabled(level)) return undefined;
  const write = logger[level].bind(logger);
  return (req, status, durationMs, module, version, requestId) => {
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    const ms = Math.round(durationMs * 1000) / 1000;
    write({ access: true, method: req.method, path, status, durationMs: ms, module, version, requestId }, `${req.method} ${path} ${status} ${ms} ms`);
  };
}
