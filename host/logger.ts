import pino from 'pino';
import type { Logger } from 'pino';
import { createPrettyStream } from './logging/pretty-stream';

export type { Logger };

/** `log_format`: one JSON object per line (for collectors), or lines for a person to read. */
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * The host's root logger; every module gets a child bound to { module, version }. `format` defaults to
 * JSON; `pretty` formats each line synchronously in this process (no transport thread).
 */
export function createLogger(level: string, destination?: pino.DestinationStream, format: LogFormat = 'json'): Logger {
  const stream = format === 'pretty' ? createPrettyStream({ colour: destination === undefined && process.stdout.isTTY === true, ...(destination === undefined ? {} : { destination }) }) : destination;
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, stream);
}

/** The configured format, or pretty when standard output is a terminal and JSON otherwise. */
export function resolveLogFormat(format: LogFormat | undefined): LogFormat {
  return format ?? (process.stdout.isTTY === true ? 'pretty' : 'json');
}
