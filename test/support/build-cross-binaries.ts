/**
 * Builds the cross-format fixtures from test/fixtures/cross/ on a Linux machine: Mach-O .dylib files for
 * x86_64 and arm64 with clang + ld64.lld (no macOS SDK: -nostdlib, a libSystem text stub), a universal
 * file combining them (its header written here, so no lipo is needed), and a PE .dll with MinGW-w64
 * importing Node-API from node.exe through a dlltool import library.
 *
 * A missing toolchain is an error naming the tool and the install script, never a silent skip: the
 * readers are only proven against real linker output when these fixtures exist.
 */

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';
import type { BinaryInfo } from '../../host/compliance/types';

export interface MachOFixtures {
  readonly x64: string;
  readonly arm64: string;
  /** Universal file: the x86_64 slice first, then arm64. */
  readonly fat: string;
}

export interface PeFixtures {
  readonly x64: string;
}

/** The info block every cross fixture carries (test/fixtures/cross/crossfix.c). */
export const CROSS_INFO = { code: 'crossfix', version: '1.2.3', napi: '8', erpmodAbi: '1' } as const;

/** The info block and declared Node-API version every cross fixture carries, whatever its format. */
export function assertCrossInfoBlock(info: BinaryInfo, where: string): void {
  assert.ok(info.infoBlock !== undefined, `the ${where} info block is found`);
  assert.equal(info.infoBlock.fields.code, CROSS_INFO.code);
  assert.equal(info.infoBlock.fields.version, CROSS_INFO.version);
  assert.equal(info.infoBlock.fields.napi, CROSS_INFO.napi);
  assert.equal(info.infoBlock.fields.erpmod_abi, CROSS_INFO.erpmodAbi);
  assert.deepEqual(info.infoBlock.problems, []);
  assert.equal(info.declaredNapiFromCode, 8);
}

const INSTALL_HINT = 'run scripts/install-test-packages.sh (Debian: clang lld gcc-mingw-w64-x86-64 binutils-mingw-w64-x86-64)';

const CPU_TYPE_X86_64 = 0x01000007;
const CPU_TYPE_ARM64 = 0x0100000c;
const CPU_SUBTYPE_ALL = { [CPU_TYPE_X86_64]: 3, [CPU_TYPE_ARM64]: 0 } as Record<number, number>;
const FAT_SLICE_ALIGN_LOG2 = 14;

function repoRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'test', 'fixtures'))) return dir;
    dir = resolve(dir, '..');
  }
  throw new Error(`cannot find the repository root above ${__dirname}`);
}

const root = repoRoot();
export const CROSS_SOURCE_DIR = join(root, 'test', 'fixtures', 'cross');
export const CROSS_BUILD_DIR = join(CROSS_SOURCE_DIR, 'build');

/** The first of `names` on PATH, also accepting Debian's versioned names (`ld64.lld-14`). */
export function findTool(names: readonly string[]): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '');
  for (const name of names) {
    for (const dir of dirs) {
      const candidate = join(dir, name);
      if (existsSync(candidate)) return candidate;
    }
  }
  for (const name of names) {
    const versioned: string[] = [];
    for (const dir of dirs) {
      let entries: string[];
      try {
        entries = readdirSync(dir);
      } catch {
        continue;
      }
      for (const entry of entries) if (new RegExp(`^${name.replace(/[.+]/g, '\\$&')}-[0-9]+$`).test(entry)) versioned.push(join(dir, entry));
    }
    versioned.sort((a, b) => Number(b.split('-').pop()) - Number(a.split('-').pop()));
    if (versioned[0] !== undefined) return versioned[0];
  }
  return undefined;
}

function requireTool(names: readonly string[], purpose: string): string {
  const found = findTool(names);
  if (found === undefined) throw new Error(`cross toolchain missing: ${names[0]} (needed for ${purpose}) is not on PATH; ${INSTALL_HINT}`);
  return found;
}

function run(tool: string, args: readonly string[]): void {
  try {
    execFileSync(tool, args, { cwd: CROSS_BUILD_DIR, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim() ?? '';
    throw new Error(`${tool} ${args.join(' ')} failed: ${stderr || (error as Error).message}`);
  }
}

/** True when `output` exists and is newer than every input, so repeated test runs do not relink. */
function upToDate(output: string, inputs: readonly string[]): boolean {
  if (!existsSync(output)) return false;
  const built = statSync(output).mtimeMs;
  return inputs.every((input) => statSync(input).mtimeMs <= built);
}

/** Outputs are written under a temporary name and renamed, so a parallel test process never reads half a file. */
function tempName(output: string): string {
  return `${output}.${process.pid}.tmp`;
}

let machO: MachOFixtures | undefined;
let pe: PeFixtures | undefined;

/** Builds (once per process, and only when sources changed) the Mach-O fixtures. */
export function buildMachOFixtures(): MachOFixtures {
  if (machO !== undefined) return machO;
  const clang = requireTool(['clang'], 'the Mach-O fixtures');
  const ld64 = requireTool(['ld64.lld'], 'linking the Mach-O fixtures');
  mkdirSync(CROSS_BUILD_DIR, { recursive: true });
  const source = join(CROSS_SOURCE_DIR, 'crossfix.c');
  const stub = join(CROSS_SOURCE_DIR, 'libSystem.tbd');
  const outputs: Record<'x86_64' | 'arm64', string> = {
    x86_64: join(CROSS_BUILD_DIR, 'crossfix-x86_64.dylib'),
    arm64: join(CROSS_BUILD_DIR, 'crossfix-arm64.dylib'),
  };
  for (const [target, output] of Object.entries(outputs)) {
    if (upToDate(output, [source, stub])) continue;
    const temp = tempName(output);
    run(clang, [
      `--target=${target}-apple-macos11`, '-O2', '-shared', '-nostdlib', '-fuse-ld=lld', `--ld-path=${ld64}`,
      // With --ld-path clang no longer knows the linker is lld and omits the platform: name it here.
      '-Wl,-platform_version,macos,11.0,11.0',
      '-Wl,-undefined,dynamic_lookup', '-Wl,-install_name,@rpath/crossfix.dylib',
      '-o', temp, source, stub,
    ]);
    renameSync(temp, output);
  }
  const fat = join(CROSS_BUILD_DIR, 'crossfix-universal.dylib');
  if (!upToDate(fat, [outputs.x86_64, outputs.arm64])) {
    const temp = tempName(fat);
    writeFileSync(temp, writeFatMachO([
      { cputype: CPU_TYPE_X86_64, bytes: readFileSync(outputs.x86_64) },
      { cputype: CPU_TYPE_ARM64, bytes: readFileSync(outputs.arm64) },
    ]));
    renameSync(temp, fat);
  }
  machO = { x64: outputs.x86_64, arm64: outputs.arm64, fat };
  return machO;
}

/** Builds (once per process, and only when sources changed) the PE fixture. */
export function buildPeFixtures(): PeFixtures {
  if (pe !== undefined) return pe;
  const gcc = requireTool(['x86_64-w64-mingw32-gcc'], 'the PE fixture');
  const dlltool = requireTool(['x86_64-w64-mingw32-dlltool'], 'the node.exe import library');
  mkdirSync(CROSS_BUILD_DIR, { recursive: true });
  const source = join(CROSS_SOURCE_DIR, 'crossfix.c');
  const def = join(CROSS_SOURCE_DIR, 'node.def');
  const importLibrary = join(CROSS_BUILD_DIR, 'libnode.a');
  if (!upToDate(importLibrary, [def])) {
    const temp = tempName(importLibrary);
    run(dlltool, ['-d', def, '-l', temp]);
    renameSync(temp, importLibrary);
  }
  const output = join(CROSS_BUILD_DIR, 'crossfix-x64.dll');
  if (!upToDate(output, [source, importLibrary])) {
    const temp = tempName(output);
    run(gcc, ['-O2', '-s', '-shared', '-o', temp, source, importLibrary]);
    renameSync(temp, output);
  }
  pe = { x64: output };
  return pe;
}

export interface FatSlice {
  readonly cputype: number;
  readonly cpusubtype?: number;
  readonly bytes: Uint8Array;
}

/** A universal Mach-O file (32-bit fat_arch entries, big-endian) with each slice 16 KiB-aligned, as lipo lays it out. */
export function writeFatMachO(slices: readonly FatSlice[]): Buffer {
  const align = 1 << FAT_SLICE_ALIGN_LOG2;
  const roundUp = (n: number): number => Math.ceil(n / align) * align;
  let offset = roundUp(8 + slices.length * 20);
  const placed = slices.map((slice) => {
    const at = offset;
    offset = roundUp(at + slice.bytes.length);
    return { slice, at };
  });
  const last = placed[placed.length - 1];
  const out = Buffer.alloc(last === undefined ? 8 : last.at + last.slice.bytes.length);
  out.writeUInt32BE(0xcafebabe, 0);
  out.writeUInt32BE(slices.length, 4);
  placed.forEach(({ slice, at }, i) => {
    const entry = 8 + i * 20;
    out.writeUInt32BE(slice.cputype >>> 0, entry);
    out.writeUInt32BE(slice.cpusubtype ?? CPU_SUBTYPE_ALL[slice.cputype] ?? 0, entry + 4);
    out.writeUInt32BE(at, entry + 8);
    out.writeUInt32BE(slice.bytes.length, entry + 12);
    out.writeUInt32BE(FAT_SLICE_ALIGN_LOG2, entry + 16);
    out.set(slice.bytes, at);
  });
  return out;
}
