/**
 * The one entry to the binary readers: sniffs the magic, dispatches to ELF, Mach-O or PE, and turns any
 * failure into `{ ok: false, reason }`. The bytes are untrusted, so nothing thrown below escapes.
 */

import type { BinaryInfo } from '../types';
import { MalformedBinary } from './byte-reader';
import { isElf, readElf } from './read-elf';
import { readMachO } from './read-macho';
import { readPe } from './read-pe';

export interface ReadBinaryOptions {
  /** The architecture wanted, so a universal (fat) Mach-O file can pick its slice. */
  readonly arch?: string;
}

export type ReadBinaryResult =
  | { readonly ok: true; readonly info: BinaryInfo }
  | { readonly ok: false; readonly reason: string };

/** Mach-O thin (both byte orders, 32/64) and universal headers. */
const MACHO_MAGICS: ReadonlySet<number> = new Set([
  0xfeedface, 0xcefaedfe, 0xfeedfacf, 0xcffaedfe, // MH_MAGIC / MH_CIGAM / MH_MAGIC_64 / MH_CIGAM_64
  0xcafebabe, 0xbebafeca, 0xcafebabf, 0xbfbafeca, // FAT_MAGIC / FAT_CIGAM / FAT_MAGIC_64 / FAT_CIGAM_64
]);

export type SniffedFormat = 'elf' | 'macho' | 'pe' | undefined;

/** The container format the first bytes announce, without validating anything else. */
export function sniffFormat(bytes: Uint8Array): SniffedFormat {
  if (isElf(bytes)) return 'elf';
  if (bytes.length >= 4) {
    const big = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
    if (MACHO_MAGICS.has(big)) return 'macho';
  }
  if (bytes.length >= 2 && bytes[0] === 0x4d && bytes[1] === 0x5a) return 'pe'; // "MZ"
  return undefined;
}

export function readBinary(bytes: Uint8Array, options: ReadBinaryOptions = {}): ReadBinaryResult {
  try {
    const format = sniffFormat(bytes);
    const readerOptions = options.arch === undefined ? {} : { arch: options.arch };
    switch (format) {
      case 'elf':
        return { ok: true, info: readElf(bytes) };
      case 'macho':
        return { ok: true, info: readMachO(bytes, readerOptions) };
      case 'pe':
        return { ok: true, info: readPe(bytes, readerOptions) };
      default:
        return { ok: false, reason: describeUnknown(bytes) };
    }
  } catch (error) {
    return { ok: false, reason: reasonOf(error) };
  }
}

function describeUnknown(bytes: Uint8Array): string {
  if (bytes.length === 0) return 'the file is empty';
  const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
  return `not an ELF, Mach-O or PE file (first bytes: ${head})`;
}

function reasonOf(error: unknown): string {
  if (error instanceof MalformedBinary) return `malformed binary: ${error.message}`;
  // A RangeError from a typed array or a bug in a reader: still the file's problem from the caller's view.
  if (error instanceof Error) return error.message;
  return String(error);
}
