import pino from 'pino';
import type { Logger } from 'pino';
import { createPrettyStream } from './logging/pretty-stream';
import { bytesWriter, standardOutput, type BytesWriter } from './logging/standard-output';

export type { Logger };

/** `log_format`: one JSON object per line (for collectors), or lines for a person to read. */
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * The host's root logger; every module gets a child bound to { module, version }. `format` defaults to
 * JSON; `pretty` formats each line synchronously in this process (no transport thread). Either way
 * standard output is written synchronously (host/logging/standard-output.ts says why).
 */
export function createLogger(level: string, destination?: pino.DestinationStream, format: LogFormat = 'json'): Logger {
  const stream = format === 'pretty' ? createPrettyStream({ colour: destination === undefined && process.stdout.isTTY === true, ...(destination === undefined ? {} : { destination }) }) : (destination ?? standardOutput());
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, stream);
}

/** The configured format, or pretty when standard output is a terminal and JSON otherwise. */
export function resolveLogFormat(format: LogFormat | undefined): LogFormat {
  return format ?? (process.stdout.isTTY === true ? 'pretty' : 'json');
}

/**
 * Writes text that already is one or more log lines (an isolated module's runner's, the access log's
 * batches) to the logger's own destination: in order with the logger's lines, and formatted the same
 * way when the format is pretty.
 */
export function lineWriter(logger: Logger): (text: string) => void {
  const stream = destinationOf(logger);
  return (text) => void stream.write(text);
}

/** The same for lines already encoded as UTF-8 bytes (the access log's batches), with no string in between where it can. */
export function lineBytesWriter(logger: Logger): BytesWriter {
  return bytesWriter(destinationOf(logger));
}

function destinationOf(logger: Logger): { write(text: string): unknown } {
  return (logger as unknown as Record<symbol, { write(text: string): unknown }>)[pino.symbols.streamSym]!;
}
