import pino from 'pino';
import type { Logger } from 'pino';

export type { Logger };

/** The host's root logger; every module gets a child bound to { module, version }. */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}
