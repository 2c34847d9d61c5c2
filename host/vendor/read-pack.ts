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
import { readTarGz, TarFormatError, type TarEntry } from './tar-archive';

export interface ModulePack {
  readonly file: string;
  /** The top directory: the module code the pack claims (module.yml must agree). */
  readonly code: string;
  /** Paths relative to the module directory. */
  readonly entries: readonly TarEntry[];
}

/** @throws ErpmodError ERPMOD_PACK_INVALID naming the file and the problem. */
export function readPack(file: string): ModulePack {
  let bytes: Buffer;
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) throw new Error('not a regular file');
    bytes = fs.readFileSync(file);
  } catch (error) {
    throw new ErpmodError('ERPMOD_PACK_INVALID', `${file}: expected a readable .tgz pack, got ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
  }
  let entries: TarEntry[];
  try {
    entries = readTarGz(bytes);
  } catch (error) {
    if (!(error instanceof TarFormatError)) throw error;
    throw new ErpmodError('ERPMOD_PACK_INVALID', `${file}: not a module pack: ${error.message}`, { cause: error });
  }
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
  return { file, code, entries: inside };
}

/** Writes the pack's entries under `dir` (which must not exist yet). */
export function extractPack(pack: ModulePack, dir: string): void {
  fs.mkdirSync(dir, { recursive: false });
  for (const entry of pack.entries) {
    const target = path.join(dir, ...entry.path.split('/'));
    fs.mkdirSync(path.dirname(target), { recursive: true });
    // 'wx': the directory is fresh, so an existing file can only mean two entries for one path.
    fs.writeFileSync(target, entry.data, { mode: entry.mode ?? 0o644, flag: 'wx' });
  }
}
