/**
 * A push parser for ustar (and pax / GNU tar) archives: bytes go in as they are decompressed, entries
 * come out as headers followed by data chunks, so nothing ever holds a whole file or the whole archive.
 * Packs come from vendors an operator may not fully trust, so every limit is checked on the header —
 * before a byte of an oversized entry is decompressed further — and only regular files and directories
 * under relative paths are accepted.
 */

export interface TarLimits {
  /** Largest total size of the files' contents. */
  readonly maxBytes: number;
  /** Largest size of one file. */
  readonly maxFileBytes: number;
  /** Most header records (files, directories, pax records) in one archive. */
  readonly maxEntries: number;
}

/** A pack is a few MiB; more is a mistake or a decompression bomb. */
export const DEFAULT_TAR_LIMITS: TarLimits = { maxBytes: 256 * 1024 * 1024, maxFileBytes: 128 * 1024 * 1024, maxEntries: 10_000 };

export interface TarFileHeader {
  /** Forward-slash relative path. */
  readonly path: string;
  readonly size: number;
  /** 0o755 for executables (libraries), 0o644 otherwise. */
  readonly mode: number;
}

/** Receives the regular files of an archive in order: `file`, then its data in `data` calls, then `fileEnd`. */
export interface TarVisitor {
  file(header: TarFileHeader): void;
  data(chunk: Buffer): void;
  fileEnd(): void;
}

/** Thrown for anything that is not a well-formed, acceptable archive; the message names the problem. */
export class TarFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarFormatError';
  }
}

export const BLOCK = 512;
/** A pax record carries a path or two; anything larger is not one erpmod pack wrote. */
const MAX_PAX_BYTES = 64 * 1024;

type BodyKind = 'file' | 'pax' | 'skip';

/** Feed with `write` as bytes arrive, then call `end`. @throws TarFormatError from either. */
export class TarParser {
  private readonly limits: TarLimits;
  private state: 'header' | 'body' | 'done' = 'header';
  private readonly header = Buffer.alloc(BLOCK);
  private headerFill = 0;
  private kind: BodyKind = 'skip';
  private remaining = 0;
  private padding = 0;
  private pax: Buffer | undefined;
  private paxFill = 0;
  private paxPath: string | undefined;
  /** Archive offset of the next byte, for messages. */
  private offset = 0;
  private records = 0;
  private totalBytes = 0;
  private readonly seen = new Set<string>();

  constructor(private readonly visitor: TarVisitor, limits: Partial<TarLimits> = {}) {
    this.limits = { ...DEFAULT_TAR_LIMITS, ...limits };
  }

  /** True once the end-of-archive block was read: anything after it is ignored. */
  get done(): boolean {
    return this.state === 'done';
  }

  write(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && this.state !== 'done') {
      const available = chunk.length - at;
      if (this.state === 'header') {
        const n = Math.min(BLOCK - this.headerFill, available);
        chunk.copy(this.header, this.headerFill, at, at + n);
        this.headerFill += n;
        at += n;
        if (this.headerFill === BLOCK) {
          this.headerFill = 0;
          this.readHeader(this.offset);
          this.offset += BLOCK;
        }
      } else if (this.remaining > 0) {
        const n = Math.min(this.remaining, available);
        this.body(chunk.subarray(at, at + n));
        this.remaining -= n;
        this.offset += n;
        at += n;
        if (this.remaining === 0) this.endBody();
      } else {
        const n = Math.min(this.padding, available);
        this.padding -= n;
        this.offset += n;
        at += n;
        if (this.padding === 0) this.state = 'header';
      }
    }
  }

  /** @throws TarFormatError when the archive stopped before its end-of-archive block. */
  end(): void {
    if (this.state === 'done') return;
    if (this.state === 'body' && this.remaining > 0) throw new TarFormatError(`the entry before offset ${this.offset} claims ${this.remaining} bytes past the end of the archive`);
    throw new TarFormatError('the archive ends without its end-of-archive blocks (truncated?)');
  }

  private readHeader(at: number): void {
    const block = this.header;
    if (block.every((b) => b === 0)) {
      this.state = 'done';
      return;
    }
    verifyChecksum(block, at);
    if (++this.records > this.limits.maxEntries) throw new TarFormatError(`the archive has more than ${this.limits.maxEntries} entries`);
    const type = String.fromCharCode(block[156]!);
    const size = readOctal(block, 124, 12, at);
    if (type === 'x') {
      if (size > MAX_PAX_BYTES) throw new TarFormatError(`entry at offset ${at}: a pax header of ${size} bytes, more than the ${MAX_PAX_BYTES} bytes accepted`);
      this.pax = Buffer.alloc(size);
      this.paxFill = 0;
      return this.startBody('pax', size);
    }
    if (type === 'g') return this.startBody('skip', this.count(size, `a global pax header at offset ${at}`));
    const name = this.paxPath ?? entryName(block);
    this.paxPath = undefined;
    if (type === '5') {
      assertSafePath(name.replace(/\/+$/, ''));
      return this.startBody('skip', this.count(size, `directory ${JSON.stringify(name)}`));
    }
    if (type !== '0' && type !== '\0' && type !== '7') {
      throw new TarFormatError(`entry ${JSON.stringify(name)} is a ${describeType(type)}; a pack holds only regular files`);
    }
    assertSafePath(name);
    if (this.seen.has(name)) throw new TarFormatError(`entry ${JSON.stringify(name)} appears twice`);
    this.seen.add(name);
    if (size > this.limits.maxFileBytes) {
      throw new TarFormatError(`entry ${JSON.stringify(name)} is ${size} bytes, more than the ${this.limits.maxFileBytes} bytes one file may have`);
    }
    this.count(size, `entry ${JSON.stringify(name)}`);
    const mode = readOctal(block, 100, 8, at);
    this.visitor.file({ path: name, size, mode: (mode & 0o111) !== 0 ? 0o755 : 0o644 });
    this.startBody('file', size);
  }

  /** Adds an entry's size to the total, refusing it when the total would pass the limit. */
  private count(size: number, what: string): number {
    this.totalBytes += size;
    if (this.totalBytes > this.limits.maxBytes) {
      throw new TarFormatError(`${what} brings the archive to ${this.totalBytes} bytes unpacked, more than ${this.limits.maxBytes} bytes`);
    }
    return size;
  }

  private startBody(kind: BodyKind, size: number): void {
    this.kind = kind;
    this.remaining = size;
    this.padding = (BLOCK - (size % BLOCK)) % BLOCK;
    this.state = 'body';
    if (size === 0) this.endBody();
  }

  private body(chunk: Buffer): void {
    if (this.kind === 'file') this.visitor.data(chunk);
    else if (this.kind === 'pax') this.paxFill += chunk.copy(this.pax!, this.paxFill);
  }

  private endBody(): void {
    if (this.kind === 'file') this.visitor.fileEnd();
    else if (this.kind === 'pax') {
      this.paxPath = paxRecord(this.pax!, 'path');
      this.pax = undefined;
    }
    if (this.padding === 0) this.state = 'header';
  }
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
