/**
 * The static phase (compliance.md): module.yml plus the binary's bytes, never vendor code. Safe on
 * untrusted files and for any target, so CI on Linux can check a .dll. The host runs it before every
 * dlopen; the checker's CLI before its load phase.
 */

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { readBinary } from './binary/read-binary';
import { checkErpmodVersion, checkImports, checkNapiEntry, checkNapiVersion, checkNoLegacyEntry } from './check-abi-rules';
import { checkIdentity, checkInfoBlock } from './check-meta-rules';
import { platformKeyOf } from './default-check-target';

export { defaultCheckTarget } from './default-check-target';
import { resolveInside } from './manifest/resolve-inside';
import { RuleCollector } from './rule-collector';
import type { BinaryFormat, BinaryInfo, CheckTarget, LoadedManifest, StaticReport } from './types';

export interface CheckStaticOptions {
  /** Which binaries entry to check; defaults to the target's `<platform>-<arch>`. */
  readonly platformKey?: string;
}

/** A shared library larger than this is not a module; refusing it keeps a hostile file from exhausting memory. */
export const MAX_BINARY_BYTES = 1024 * 1024 * 1024;

const FORMATS: Readonly<Record<string, { format: BinaryFormat; extension: string; name: string }>> = {
  linux: { format: 'elf', extension: '.so', name: 'ELF' },
  darwin: { format: 'macho', extension: '.dylib', name: 'Mach-O' },
  win32: { format: 'pe', extension: '.dll', name: 'PE/COFF' },
};
const FORMAT_NAMES: Readonly<Record<BinaryFormat, string>> = { elf: 'ELF', macho: 'Mach-O', pe: 'PE/COFF' };

/**
 * Checks the binary module.yml declares for the target's platform (or `options.platformKey`).
 * @example
 *   const report = checkStatic(readManifest('modules/sales'), defaultCheckTarget());
 *   if (!report.ok) for (const v of report.violations) console.error(`${v.rule}: ${v.message}`);
 */
export function checkStatic(loaded: LoadedManifest, target: CheckTarget, options: CheckStaticOptions = {}): StaticReport {
  const key = options.platformKey ?? platformKeyOf(target);
  const { manifest, manifestPath, moduleDir } = loaded;
  const declared = manifest.binaries[key];
  const missing = (c: RuleCollector, binaryPath: string | undefined) => report(loaded, target, c, binaryPath, undefined, undefined);

  if (declared === undefined) {
    const c = new RuleCollector(manifestPath);
    c.run('manifest/schema');
    c.fail('binary/present', {
      message: `module.yml declares no binary for ${key}`,
      expected: `binaries.${key}: lib/${key}/${manifest.code}${extensionFor(key)}`,
      found: Object.keys(manifest.binaries).length > 0 ? `binaries for ${Object.keys(manifest.binaries).join(', ')}` : 'no binaries',
      fix: `build the library for ${key} and declare it in module.yml under binaries.${key}`,
    });
    return missing(c, undefined);
  }

  const resolved = resolveInside(moduleDir, declared);
  if (!resolved.ok || !resolved.exists) {
    const c = new RuleCollector(manifestPath);
    c.run('manifest/schema');
    c.fail('binary/present', resolved.ok
      ? { message: `the binary for ${key} does not exist: ${declared}`, expected: `a file at ${declared}`, found: 'no such file',
          fix: `build the library for ${key} and copy it to ${declared} inside the module directory` }
      : { message: `binaries.${key}: ${resolved.reason}`, expected: 'a path inside the module directory', found: declared });
    return missing(c, resolved.ok ? resolved.absolute : undefined);
  }
  return checkStaticFile(loaded, resolved.absolute, target, { platformKey: key });
}

/**
 * Checks a specific file as the module's binary for a platform key, e.g. the content-addressed copy
 * the host is about to load. The path is not required to lie inside the module directory.
 */
export function checkStaticFile(loaded: LoadedManifest, binaryPath: string, target: CheckTarget, options: CheckStaticOptions = {}): StaticReport {
  const absolute = path.resolve(binaryPath);
  const c = new RuleCollector(absolute);
  c.run('manifest/schema');
  let bytes: Buffer;
  try {
    const stat = fs.statSync(absolute);
    if (!stat.isFile()) throw new Error('not a regular file');
    if (stat.size > MAX_BINARY_BYTES) throw new Error(`${stat.size} bytes is over the ${MAX_BINARY_BYTES}-byte limit`);
    bytes = fs.readFileSync(absolute);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    c.fail('binary/present', { message: `cannot read the binary ${absolute}: ${reason}`, expected: 'a readable regular file', found: reason });
    return report(loaded, target, c, absolute, undefined, undefined);
  }
  return checkStaticBytes(loaded, bytes, absolute, target, options);
}

/**
 * Checks bytes already read (so the host can hash, check and copy exactly one read of the file).
 * `binaryPath` names the file in messages and decides the extension check.
 */
export function checkStaticBytes(
  loaded: LoadedManifest, bytes: Uint8Array, binaryPath: string, target: CheckTarget, options: CheckStaticOptions = {},
): StaticReport {
  const key = options.platformKey ?? platformKeyOf(target);
  const dash = key.indexOf('-');
  const platform = dash < 0 ? target.platform : key.slice(0, dash);
  const arch = dash < 0 ? target.arch : key.slice(dash + 1);
  const { manifest } = loaded;
  const c = new RuleCollector(binaryPath);
  c.run('manifest/schema');
  c.run('binary/present');

  const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
  const pinned = manifest.sha256[key];
  if (pinned !== undefined) {
    c.run('binary/sha256');
    if (pinned !== sha256) {
      c.fail('binary/sha256', { message: `the binary's SHA-256 does not match module.yml sha256.${key}`, expected: pinned, found: sha256 });
    }
  }

  const parsed = readBinary(bytes, { arch });
  if (!parsed.ok) {
    const want = FORMATS[platform];
    c.fail('binary/format', {
      message: `the binary cannot be read as a shared library: ${parsed.reason}`,
      expected: want ? `an ${want.name} shared library` : 'a shared library',
      found: parsed.reason,
    });
    return report(loaded, target, c, binaryPath, sha256, undefined);
  }
  const info = parsed.info;
  // A shadow copy may carry any name; the extension that matters is the one module.yml declares.
  checkFormat(c, info, platform, manifest.binaries[key] ?? binaryPath);
  checkArch(c, info, arch, key);
  const input = { manifest, target, info, manifestPath: loaded.manifestPath };
  checkNapiEntry(c, input);
  checkNapiVersion(c, input);
  checkNoLegacyEntry(c, input);
  checkImports(c, input);
  checkErpmodVersion(c, input);
  checkInfoBlock(c, info);
  checkIdentity(c, manifest, info);
  return report(loaded, target, c, binaryPath, sha256, info);
}

function checkFormat(c: RuleCollector, info: BinaryInfo, platform: string, fileName: string): void {
  c.run('binary/format');
  const want = FORMATS[platform] ?? FORMATS.linux!;
  if (info.format !== want.format) {
    c.fail('binary/format', {
      message: `the binary is ${FORMAT_NAMES[info.format]}, but ${platform} loads ${want.name}`,
      expected: want.name, found: FORMAT_NAMES[info.format],
      fix: `build the library for ${platform}, or declare this file under the platform it was built for`,
    });
  }
  const extension = path.extname(fileName).toLowerCase();
  if (extension !== want.extension) {
    c.fail('binary/format', {
      message: `the binary's extension is ${extension || '(none)'}, but ${platform} libraries end in ${want.extension}`,
      expected: want.extension, found: extension || '(none)',
      fix: `name the file <code>${want.extension}`,
    });
  }
  if (!info.isSharedLibrary) {
    c.fail('binary/format', {
      message: 'the file is not a shared library (an executable or object file?)',
      expected: 'a shared library', found: `a ${FORMAT_NAMES[info.format]} file of another type`,
      fix: 'link with -shared (or as a DLL / dylib bundle)',
    });
  }
}

function checkArch(c: RuleCollector, info: BinaryInfo, arch: string, key: string): void {
  c.run('binary/arch');
  if (info.arch !== arch) {
    c.fail('binary/arch', {
      message: `the binary is built for ${info.arch} (machine ${info.machine}), but it is declared for ${key}`,
      expected: arch, found: `${info.arch} (machine ${info.machine})`,
    });
  }
}

function extensionFor(key: string): string {
  return FORMATS[key.slice(0, key.indexOf('-'))]?.extension ?? '.so';
}

function report(
  loaded: LoadedManifest, target: CheckTarget, c: RuleCollector, binaryPath: string | undefined,
  binarySha256: string | undefined, binary: BinaryInfo | undefined,
): StaticReport {
  return {
    code: loaded.manifest.code,
    moduleDir: loaded.moduleDir,
    target,
    binaryPath,
    binarySha256,
    binary,
    passed: c.passed(),
    violations: c.violations,
    ok: c.ok(),
  };
}
