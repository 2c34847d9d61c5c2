/**
 * A small ustar writer and reader for module packs (`.tgz`), with gzip from node:zlib. Packs are read by
 * the host's operators from vendors they may not fully trust, so the reader accepts only what a pack
 * needs — regular files and directories under relative paths — and refuses links, devices, absolute
 * paths, `..`, duplicates and oversized content before anything touches the disk. The writer is
 * deterministic (fixed mtime, owner and modes), so packing the same files twice gives the same bytes.
 */

import zlib from 'node:zlib';

export interface TarEntry {
  /** Forward-slash relative path. */
  readonly path: string;
  readonly data: Buffer;
  /** 0o755 for executables (libraries), 0o644 otherwise. */
  readonly mode?: number;
}

export interface ReadTarOptions {
  /** Largest total uncompressed size accepted. */
  readonly maxBytes?: number;
  readonly maxEntries?: number;
}

/** A pack is a few MiB; a larger one is a mistake or a decompression bomb. */
export const DEFAULT_MAX_PACK_BYTES = 512 * 1024 * 1024;
export const DEFAULT_MAX_PACK_ENTRIES = 10_000;

const BLOCK = 512;

/** Thrown for anything that is not a well-formed, acceptable archive; the message names the problem. */
export class TarFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarFormatError';
  }
}

/** The entries as a gzip-compressed ustar archive, in the order given. */
export function writeTarGz(entries: readonly TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    assertSafePath(entry.path);
    blocks.push(header(entry.path, entry.data.length, entry.mode ?? 0o644));
    blocks.push(entry.data);
    const padding = (BLOCK - (entry.data.length % BLOCK)) % BLOCK;
    if (padding > 0) blocks.push(Buffer.alloc(padding));
  }
  blocks.push(Buffer.alloc(BLOCK * 2));
  return zlib.gzipSync(Buffer.concat(blocks), { level: 9 });
}

/**
 * Regular-file entries of a gzip-compressed ustar (or pax / GNU tar) archive. Directory entries are
 * accepted and dropped (extraction creates parents); anything else is refused.
 * @throws TarFormatError
 */
export function readTarGz(bytes: Buffer, options: ReadTarOptions = {}): TarEntry[] {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_PACK_BYTES;
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_PACK_ENTRIES;
  let tar: Buffer;
  try {
    tar = zlib.gunzipSync(bytes, { maxOutputLength: maxBytes });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || /larger than|maxOutputLength/i.test((error as Error).message)) {
      throw new TarFormatError(`the archive unpacks to more than ${maxBytes} bytes`);
    }
    throw new TarFormatError(`not a gzip file (${(error as Error).message})`);
  }
  const entries: TarEntry[] = [];
  const seen = new Set<string>();
  let paxPath: string | undefined;
  let offset = 0;
  for (;;) {
    if (offset + BLOCK > tar.length) throw new TarFormatError('the archive ends without its end-of-archive blocks (truncated?)');
    const block = tar.subarray(offset, offset + BLOCK);
    if (block.every((b) => b === 0)) break;
    verifyChecksum(block, offset);
    const type = String.fromCharCode(block[156]!);
    const size = readOctal(block, 124, 12, offset);
    const dataStart = offset + BLOCK;
    const dataEnd = dataStart + size;
    if (dataEnd > tar.length) throw new TarFormatError(`entry at offset ${offset} claims ${size} bytes past the end of the archive`);
    const data = tar.subarray(dataStart, dataEnd);
    offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;

    if (type === 'x') {
      paxPath = paxRecord(data, 'path');
      continue;
    }
    if (type === 'g') continue;
    const name = paxPath ?? entryName(block);
    paxPath = undefined;
    if (type === '5') {
      assertSafePath(name.replace(/\/+$/, ''));
      continue;
    }
    if (type !== '0' && type !== '\0' && type !== '7') {
      throw new TarFormatError(`entry ${JSON.stringify(name)} is a ${describeType(type)}; a pack holds only regular files`);
    }
    assertSafePath(name);
    if (seen.has(name)) throw new TarFormatError(`entry ${JSON.stringify(name)} appears twice`);
    seen.add(name);
    if (seen.size > maxEntries) throw new TarFormatError(`the archive has more than ${maxEntries} entries`);
    const mode = readOctal(block, 100, 8, offset - BLOCK);
    entries.push({ path: name, data: Buffer.from(data), mode: (mode & 0o111) !== 0 ? 0o755 : 0o644 });
  }
  return entries;
}

/** Refuses absolute paths, `..`, empty or `.` segments, backslashes and control characters. */
export function assertSafePath(p: string): void {
  if (p === '' || p.startsWith('/') || /^[A-Za-z]:/.test(p)) throw new TarFormatError(`entry path ${JSON.stringify(p)} is not relative`);
  // eslint-disable-next-line no-control-regex
  if (/[\\\u0000-\u001f\u007f]/.test(p)) throw new TarFormatError(`entry path ${JSON.stringify(p)} contains a backslash or a control character`);
  for (const segment of p.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') throw new TarFormatError(`entry path ${JSON.stringify(p)} has an empty, "." or ".." segment`);
  }
}

function header(path: string, size: number, mode: number): Buffer {
  const block = Buffer.alloc(BLOCK);
  let name = path;
  let prefix = '';
  if (Buffer.byteLength(path) > 100) {
    const cut = path.lastIndexOf('/', 155);
    if (cut <= 0 || Buffer.byteLength(path.slice(cut + 1)) > 100 || Buffer.byteLength(path.slice(0, cut)) > 155) {
      throw new TarFormatError(`entry path ${JSON.stringify(path)} is too long for a ustar header`);
    }
    prefix = path.slice(0, cut);
    name = path.slice(cut + 1);
  }
  block.write(name, 0, 100, 'utf8');
  writeOctal(block, 100, 8, mode);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, 0);
  block.fill(0x20, 148, 156);
  block.write('0', 156, 'ascii');
  block.write('ustar\u000000', 257, 'binary');
  block.write('root', 265, 'ascii');
  block.write('root', 297, 'ascii');
  block.write(prefix, 345, 155, 'utf8');
  const sum = block.reduce((total, b) => total + b, 0);
  block.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 'binary');
  return block;
}

function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  const text = value.toString(8).padStart(length - 1, '0');
  if (text.length > length - 1) throw new TarFormatError(`value ${value} does not fit a ${length}-byte tar field`);
  block.write(`${text}\u0000`, offset, 'binary');
}

function readOctal(block: Buffer, offset: number, length: number, at: number): number {
  const field = block.subarray(offset, offset + length);
  if ((field[0]! & 0x80) !== 0) throw new TarFormatError(`entry at offset ${at}: base-256 numbers are not supported`);
  const text = field.toString('ascii').replace(/\u0000.*$/s, '').trim();
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`entry at offset ${at}: malformed number ${JSON.stringify(text)}`);
  return parseInt(text, 8);
}

function verifyChecksum(block: Buffer, at: number): void {
  let stored: number;
  try {
    stored = readOctal(block, 148, 8, at);
  } catch {
    throw new TarFormatError(`entry at offset ${at}: no header checksum (not a tar archive, or corrupted)`);
  }
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  if (sum !== stored) throw new TarFormatError(`entry at offset ${at}: header checksum mismatch (not a tar archive, or corrupted)`);
}

function entryName(block: Buffer): string {
  const field = (start: number, length: number): string => {
    const raw = block.subarray(start, start + length);
    const end = raw.indexOf(0);
    return raw.subarray(0, end < 0 ? length : end).toString('utf8');
  };
  const name = field(0, 100);
  const isUstar = block.subarray(257, 262).toString('ascii') === 'ustar';
  const prefix = isUstar ? field(345, 155) : '';
  return prefix === '' ? name : `${prefix}/${name}`;
}

/** One record (`<len> key=value\n`) of a pax extended header. */
function paxRecord(data: Buffer, key: string): string | undefined {
  let offset = 0;
  let found: string | undefined;
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset);
    if (space < 0) break;
    const length = Number(data.subarray(offset, space).toString('ascii'));
    if (!Number.isInteger(length) || length <= 0 || offset + length > data.length) throw new TarFormatError('malformed pax header');
    const record = data.subarray(space + 1, offset + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0 && record.slice(0, eq) === key) found = record.slice(eq + 1);
    offset += length;
  }
  return found;
}

function describeType(type: string): string {
  switch (type) {
    case '1':
      return 'hard link';
    case '2':
      return 'symbolic link';
    case '3':
    case '4':
      return 'device';
    case '6':
      return 'FIFO';
    case 'L':
    case 'K':
      return 'GNU long-name record';
    default:
      return `tar entry of type ${JSON.stringify(type)}`;
  }
}
