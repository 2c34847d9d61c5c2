import crypto from 'node:crypto';

/**
 * A name beside `file` for writing it whole before it takes its own name (by rename or link): in the
 * same directory, so on the same filesystem; with the process id and random bytes, so neither another
 * process nor another call in this one picks the same; `suffix` says what a stray one left by a crash is.
 */
export function temporaryPathBeside(file: string, suffix: 'tmp' | 'new' = 'tmp'): string {
  return `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.${suffix}`;
}
