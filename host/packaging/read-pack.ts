/**
 * Reading a module pack: `<code>/module.yml`, `<code>/module.yml.sig`, `<code>/lib/...`,
 * `<code>/migrations/...`, `<code>/README.md` in a gzip-compressed tar. Every entry lives under one
 * top directory named after the module's code, so `tar xzf sales-1.4.0.tgz -C modules/` gives
 * `modules/sales/` too.
 */

import fs from 'node:fs';
import path from 'node:path';
import { CODE_PATTERN } from '../compliance/manifest/manifest-schema';
import { ErpmodError } from '../errors';
import { readTarGzFile } from './tar-archive';
import { TarFormatError, type TarFileHeader, type TarLimits } from './tar-parser';

export interface ModulePack {
  readonly file: string;
  /** The top directory: the module code the pack claims (module.yml must agree). */
  readonly code: string;
  /** Paths relative to the module directory, with the sizes their headers declare. */
  readonly entries: readonly TarFileHeader[];
  /** The limits the pack was read under; extraction applies them again. */
  readonly limits: Partial<TarLimits>;
}

/**
 * Reads the pack's headers (streaming through its contents, holding none of them) and checks its
 * layout; `extractPack` then writes the files.
 * @throws ErpmodError ERPMOD_PACK_INVALID naming the file and the problem (for a limit: the entry and the limit).
 */
export async function readPack(file: string, limits: Partial<TarLimits> = {}): Promise<ModulePack> {
  try {
    if (!fs.statSync(file).isFile()) throw new Error('not a regular file');
    fs.accessSync(file, fs.constants.R_OK);
  } catch (error) {
    throw new ErpmodError('ERPMOD_PACK_INVALID', `${file}: expected a readable .tgz pack, got ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
  }
  const entries: TarFileHeader[] = [];
  await readEntries(file, limits, { file: (header) => entries.push(header), data: () => undefined, fileEnd: () => undefined });
  const tops = new Set(entries.map((e) => e.path.split('/')[0]!));
  if (entries.length === 0 || tops.size !== 1) {
    throw new ErpmodError('ERPMOD_PACK_INVALID', `${file}: expected every entry under one <code>/ directory, got ${entries.length === 0 ? 'an empty archive' : `top-level entries ${[...tops].slice(0, 5).join(', ')}`}`);
  }
  const code = [...tops][0]!;
  if (!CODE_PATTERN.test(code) || code.length < 2 || code.length > 40) {
    throw new ErpmodError('ERPMOD_PACK_INVALID', `${file}: top directory ${JSON.stringify(code)} is not a module code (lowercase kebab-case, 2 to 40 characters)`);
  }
  const stray = entries.find((e) => !e.path.startsWith(`${code}/`));
  if (stray !== undefined) throw new ErpmodError('ERPMOD_PACK_INVALID', `${file}: expected files inside ${code}/, got the file ${JSON.stringify(stray.path)}`);
  const inside = entries.map((e) => ({ ...e, path: e.path.slice(code.length + 1) }));
  if (!inside.some((e) => e.path === 'module.yml')) throw new ErpmodError('ERPMOD_PACK_INVALID', `${file}: expected ${code}/module.yml in the pack, found none`);
  return { file, code, entries: inside, limits };
}

/**
 * Writes the pack's files under `dir` (which must not exist yet), each streamed from the archive to its
 * file. A pack that changed since `readPack` (an entry it did not list) is refused.
 */
export async function extractPack(pack: ModulePack, dir: string): Promise<void> {
  fs.mkdirSync(dir, { recursive: false });
  const expected = new Map(pack.entries.map((e) => [`${pack.code}/${e.path}`, e.size]));
  let fd: number | undefined;
  try {
    await readEntries(pack.file, pack.limits, {
      file: (header) => {
        if (expected.get(header.path) !== header.size) {
          throw new ErpmodError('ERPMOD_PACK_INVALID', `${pack.file}: entry ${JSON.stringify(header.path)} was not in the pack when it was first read (the file changed meanwhile)`);
        }
        const target = path.join(dir, ...header.path.slice(pack.code.length + 1).split('/'));
        fs.mkdirSync(path.dirname(target), { recursive: true });
        // 'wx': the directory is fresh, so an existing file can only mean two entries for one path.
        fd = fs.openSync(target, 'wx', header.mode);
      },
      data: (chunk) => {
        for (let written = 0; written < chunk.length; ) written += fs.writeSync(fd!, chunk, written);
      },
      fileEnd: () => {
        fs.closeSync(fd!);
        fd = undefined;
      },
    });
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

async function readEntries(file: string, limits: Partial<TarLimits>, visitor: Parameters<typeof readTarGzFile>[1]): Promise<void> {
  try {
    await readTarGzFile(file, visitor, limits);
  } catch (error) {
    if (!(error instanceof TarFormatError)) throw error;
    throw new ErpmodError('ERPMOD_PACK_INVALID', `${file}: not a module pack: ${error.message}`, { cause: error });
  }
}
