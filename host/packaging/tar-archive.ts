/**
 * A small ustar writer and reader for module packs (`.tgz`), with gzip from node:zlib. Reading goes
 * through TarParser (tar-parser.ts: what is accepted, the limits); packs being installed are streamed
 * from their file, never held in memory. The writer is deterministic (fixed mtime, owner and modes), so
 * packing the same files twice gives the same bytes.
 */

import fs from 'node:fs';
import zlib from 'node:zlib';
import { assertSafePath, BLOCK, DEFAULT_TAR_LIMITS, TarFormatError, TarParser, type TarFileHeader, type TarLimits, type TarVisitor } from './tar-parser';

export { assertSafePath, DEFAULT_TAR_LIMITS, TarFormatError, type TarLimits } from './tar-parser';

export interface TarEntry {
  /** Forward-slash relative path. */
  readonly path: string;
  readonly data: Buffer;
  /** 0o755 for executables (libraries), 0o644 otherwise. */
  readonly mode?: number;
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

/** Regular files of an archive held in memory; for small archives (tests, tools), never a pack being installed. */
export type ReadTarOptions = Partial<TarLimits>;

/**
 * Regular-file entries of a gzip-compressed ustar (or pax / GNU tar) archive held in memory. Directory
 * entries are accepted and dropped (extraction creates parents); anything else is refused.
 * @throws TarFormatError
 */
export function readTarGz(bytes: Buffer, options: ReadTarOptions = {}): TarEntry[] {
  const limits = { ...DEFAULT_TAR_LIMITS, ...options };
  let tar: Buffer;
  try {
    // Headers and padding come on top of the contents: at most two blocks per entry, plus the end blocks.
    tar = zlib.gunzipSync(bytes, { maxOutputLength: limits.maxBytes + (limits.maxEntries + 2) * 2 * BLOCK });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || /larger than|maxOutputLength/i.test((error as Error).message)) {
      throw new TarFormatError(`the archive unpacks to more than ${limits.maxBytes} bytes`);
    }
    throw new TarFormatError(`not a gzip file (${(error as Error).message})`);
  }
  const entries: TarEntry[] = [];
  let current: { header: TarFileHeader; chunks: Buffer[] } | undefined;
  const parser = new TarParser(
    {
      file: (header) => {
        current = { header, chunks: [] };
      },
      data: (chunk) => current!.chunks.push(chunk),
      fileEnd: () => {
        entries.push({ path: current!.header.path, data: Buffer.concat(current!.chunks), mode: current!.header.mode });
      },
    },
    limits,
  );
  parser.write(tar);
  parser.end();
  return entries;
}

/**
 * Streams a `.tgz` file through `visitor` chunk by chunk (as it is read and decompressed), so memory
 * stays at a few buffers whatever the archive holds; the parser refuses an entry past a limit on its
 * header. Errors the visitor throws (a full disk) come out unchanged.
 * @throws TarFormatError
 */
export async function readTarGzFile(file: string, visitor: TarVisitor, limits: Partial<TarLimits> = {}): Promise<void> {
  const parser = new TarParser(visitor, limits);
  const source = fs.createReadStream(file);
  const gunzip = zlib.createGunzip();
  source.once('error', (error) => gunzip.destroy(error));
  source.pipe(gunzip);
  try {
    for await (const chunk of gunzip) {
      parser.write(chunk as Buffer);
      if (parser.done) break;
    }
  } catch (error) {
    // zlib's errors carry Z_* codes; anything else (the file, the visitor) is not about the format.
    if (/^Z_/.test(String((error as NodeJS.ErrnoException).code))) throw new TarFormatError(`not a gzip file (${(error as Error).message})`);
    throw error;
  } finally {
    source.destroy();
    gunzip.destroy();
  }
  parser.end();
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
