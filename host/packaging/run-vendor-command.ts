/**
 * The shared frame of the vendor commands (new, build, pack, verify, install, keygen): `--help`, and
 * errors turned into one `erpmod: CODE: message` line with the exit code the docs promise — 2 for
 * usage (with the usage text), 1 for everything else.
 */

import { ErpmodError, messageOf } from '../errors';

export const EXIT_OK = 0;
export const EXIT_REFUSED = 1;
export const EXIT_USAGE = 2;

export async function runVendorCommand(usage: string, argv: readonly string[], body: () => Promise<number> | number): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage);
    return EXIT_OK;
  }
  try {
    return await body();
  } catch (error) {
    const code = error instanceof ErpmodError ? error.code : 'ERPMOD_INTERNAL';
    process.stderr.write(`erpmod: ${code}: ${messageOf(error)}\n`);
    if (code === 'ERPMOD_USAGE') {
      process.stderr.write(`\n${usage}`);
      return EXIT_USAGE;
    }
    return EXIT_REFUSED;
  }
}

/** At most `max` positionals. @throws ErpmodError ERPMOD_USAGE */
export function positionalArgs(positionals: readonly string[], min: number, max: number, what: string): string[] {
  if (positionals.length < min) throw new ErpmodError('ERPMOD_USAGE', `expected ${what}, got nothing`);
  if (positionals.length > max) throw new ErpmodError('ERPMOD_USAGE', `expected ${what}, got also ${positionals.slice(max).map((p) => JSON.stringify(p)).join(' ')}`);
  return [...positionals];
}

/** A string option's value, or undefined. */
export function stringOption(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
