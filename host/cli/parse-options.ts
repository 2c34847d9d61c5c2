/**
 * Option parsing shared by the commands: node:util parseArgs with its errors turned into ERPMOD_USAGE
 * (exit 2). Its own file so the commands do not import the dispatcher that imports them.
 */

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ErpmodError, messageOf } from '../errors';

export function parseOptions(
  argv: readonly string[],
  options: NonNullable<ParseArgsConfig['options']>,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true });
    return { values: parsed.values as Record<string, string | boolean | undefined>, positionals: parsed.positionals };
  } catch (error) {
    throw new ErpmodError('ERPMOD_USAGE', messageOf(error), { cause: error });
  }
}

/** A port option's value: an integer from 0 to 65535. @throws ErpmodError ERPMOD_USAGE */
export function portOption(flag: string, raw: unknown): number {
  const port = Number(raw);
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || port > 65535) {
    throw new ErpmodError('ERPMOD_USAGE', `${flag}: expected an integer from 0 to 65535, got "${String(raw)}"`);
  }
  return port;
}
