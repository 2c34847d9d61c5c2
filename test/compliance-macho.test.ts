import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { readBinary } from '../host/compliance/binary/read-binary';
import { readMachO } from '../host/compliance/binary/read-macho';
import type { BinaryInfo } from '../host/compliance/types';
import { assertCrossInfoBlock, buildMachOFixtures, writeFatMachO } from './support/build-cross-binaries';
import { seededRandom } from './support/seeded-random';
import { damagedCopies, timedParse } from './support/damaged-copies';

const CPU_TYPE_X86_64 = 0x01000007;
const CPU_TYPE_ARM64 = 0x0100000c;
const CPU_TYPE_I386 = 7;
const CPU_TYPE_POWERPC = 18;
const LC_SYMTAB = 0x2;
const LC_SEGMENT = 0x1;
const LC_SEGMENT_64 = 0x19;
const LC_LOAD_DYLIB = 0xc;
const LC_DYLD_EXPORTS_TRIE = 0x80000033;
const INFO = 'erpmod_info=1\nerpmod_abi=1\ncode=handmade\nversion=0.0.1\nnapi=6\nsdk=0.1.0\n';

function assertCrossModule(info: BinaryInfo, arch: 'x64' | 'arm64', machine: number): void {
  assert.equal(info.format, 'macho');
  assert.equal(info.bits, 64);
  assert.equal(info.endian, 'little');
  assert.equal(info.arch, arch);
  assert.equal(info.machine, machine);
  assert.equal(info.isSharedLibrary, true);
  assert.ok(info.exports.includes('napi_register_module_v1'), `exports: ${info.exports.join(', ')}`);
  assert.ok(info.exports.includes('node_api_module_get_api_version_v1'), `exports: ${info.exports.join(', ')}`);
  assert.ok(!info.exports.includes('napi_create_object'), 'an import is not an export');
  assert.ok(info.imports.includes('napi_create_object'), `imports: ${info.imports.join(', ')}`);
  assert.ok(!info.exports.some((name) => name.startsWith('_')), 'the Mach-O leading underscore is stripped');
  assert.deepEqual(info.neededLibraries, ['/usr/lib/libSystem.B.dylib']);
  assertCrossInfoBlock(info, '__DATA,__erpmod');
}

test('a clang/ld64.lld x86_64 dylib reads as a Node-API module', () => {
  assertCrossModule(readMachO(readFileSync(buildMachOFixtures().x64)), 'x64', CPU_TYPE_X86_64);
});

test('a clang/ld64.lld arm64 dylib reads as a Node-API module', () => {
  assertCrossModule(readMachO(readFileSync(buildMachOFixtures().arm64)), 'arm64', CPU_TYPE_ARM64);
});

test('a universal dylib yields the slice asked for, the first one when none is asked', () => {
  const { fat, x64, arm64 } = buildMachOFixtures();
  const bytes = readFileSync(fat);
  assert.deepEqual(readMachO(bytes, { arch: 'x64' }), readMachO(readFileSync(x64)));
  assert.deepEqual(readMachO(bytes, { arch: 'arm64' }), readMachO(readFileSync(arm64)));
  assertCrossModule(readMachO(bytes, { arch: 'arm64' }), 'arm64', CPU_TYPE_ARM64);
  assert.equal(readMachO(bytes).arch, 'x64');
});

test('a universal dylib without the asked arch names the arches it has', () => {
  const bytes = readFileSync(buildMachOFixtures().fat);
  assert.throws(() => readMachO(bytes, { arch: 'ia32' }), { message: /no ia32 slice; slices present: x64, arm64/ });
  const viaReadBinary = readBinary(bytes, { arch: 'riscv64' });
  assert.equal(viaReadBinary.ok, false);
  assert.match(viaReadBinary.ok ? '' : viaReadBinary.reason, /slices present: x64, arm64/);
});

test('exports and the declared version come from the export trie when the symbol table is empty', () => {
  const bytes = Buffer.from(readFileSync(buildMachOFixtures().arm64));
  const symtab = findLoadCommand(bytes, LC_SYMTAB);
  bytes.writeUInt32LE(0, symtab + 12); // nsyms
  const info = readMachO(bytes);
  assert.ok(info.exports.includes('napi_register_module_v1'));
  assert.ok(info.exports.includes('node_api_module_get_api_version_v1'));
  assert.deepEqual(info.imports, []);
  assert.equal(info.declaredNapiFromCode, 8);
});

test('hand-made 32-bit Mach-O files parse in both byte orders', () => {
  const little = readMachO(synthesizeMachO({ bits: 32, endian: 'little', cputype: CPU_TYPE_I386 }));
  const big = readMachO(synthesizeMachO({ bits: 32, endian: 'big', cputype: CPU_TYPE_POWERPC }));
  for (const info of [little, big]) {
    assert.equal(info.format, 'macho');
    assert.equal(info.bits, 32);
    assert.equal(info.isSharedLibrary, true);
    assert.deepEqual(info.exports, ['napi_register_module_v1']);
    assert.deepEqual(info.imports, ['napi_create_object']);
    assert.deepEqual(info.neededLibraries, ['/usr/lib/libSystem.B.dylib']);
    assert.equal(info.infoBlock?.fields.code, 'handmade');
    assert.equal(info.declaredNapiFromCode, undefined);
  }
  assert.equal(little.endian, 'little');
  assert.equal(little.arch, 'ia32');
  assert.equal(big.endian, 'big');
  assert.equal(big.arch, 'unknown');
  assert.equal(big.machine, CPU_TYPE_POWERPC);
});

test('a hand-made MH_EXECUTE is not a shared library and a file without __erpmod has no info block', () => {
  const info = readMachO(synthesizeMachO({ bits: 64, endian: 'little', cputype: CPU_TYPE_X86_64, filetype: 2, sectionName: '__other' }));
  assert.equal(info.isSharedLibrary, false);
  assert.equal(info.infoBlock, undefined);
});

test('export tries: names are joined along edges; a cycle or a runaway depth is an error, not a hang', () => {
  const trie = Uint8Array.from([
    0, 1, ...ascii('_napi_'), 0, 10, // root (offset 0): no terminal, one edge to offset 10
    0, 1, ...ascii('x'), 0, 15, // "_napi_" (offset 10): one edge to offset 15
    2, 0, 0x10, 0, // "_napi_x": terminal (flags 0, address 0x10), no children
  ]);
  const info = readMachO(synthesizeMachO({ bits: 64, endian: 'little', cputype: CPU_TYPE_X86_64, trie }));
  assert.ok(info.exports.includes('napi_x'), `exports: ${info.exports.join(', ')}`);

  const cycle = Uint8Array.from([0, 1, ...ascii('a'), 0, 0]); // the root's only edge leads back to the root
  assert.throws(() => readMachO(synthesizeMachO({ bits: 64, endian: 'little', cputype: CPU_TYPE_X86_64, trie: cycle })), /twice/);

  const chain: number[] = [];
  // Each node has one edge to the next; the offset is a two-byte ULEB128 so every node is 6 bytes.
  for (let depth = 0; depth < 300; depth++) {
    const next = chain.length + 6;
    chain.push(0, 1, 0x61, 0, 0x80 | (next & 0x7f), next >> 7);
  }
  chain.push(0, 0);
  assert.throws(() => readMachO(synthesizeMachO({ bits: 64, endian: 'little', cputype: CPU_TYPE_X86_64, trie: Uint8Array.from(chain) })), /deeper/);
});

test('forged counts are refused at once', () => {
  const base = synthesizeMachO({ bits: 64, endian: 'little', cputype: CPU_TYPE_X86_64 });
  const manyCommands = Buffer.from(base);
  manyCommands.writeUInt32LE(0xffffffff, 16);
  assert.throws(() => readMachO(manyCommands), Error);
  const manySymbols = Buffer.from(base);
  manySymbols.writeUInt32LE(0x7fffffff, findLoadCommand(manySymbols, LC_SYMTAB) + 12);
  assert.throws(() => readMachO(manySymbols), Error);
  const manySlices = writeFatMachO([{ cputype: CPU_TYPE_X86_64, bytes: base }]);
  manySlices.writeUInt32BE(0x7fffffff, 4);
  assert.throws(() => readMachO(manySlices), /slice/);
  const sliceOutside = writeFatMachO([{ cputype: CPU_TYPE_X86_64, bytes: base }]);
  sliceOutside.writeUInt32BE(0x7fff0000, 16);
  assert.throws(() => readMachO(sliceOutside), /outside/);
});

test('truncated and byte-flipped Mach-O files give a result or an Error, quickly', (t) => {
  const { x64, fat } = buildMachOFixtures();
  const samples: { name: string; bytes: Uint8Array; arch?: string }[] = [
    { name: 'thin x86_64', bytes: readFileSync(x64) },
    { name: 'universal (arm64 slice)', bytes: readFileSync(fat), arch: 'arm64' },
    { name: 'hand-made 32-bit big-endian', bytes: synthesizeMachO({ bits: 32, endian: 'big', cputype: CPU_TYPE_POWERPC }) },
  ];
  const random = seededRandom(0x5eed_3ac0);
  let slowest = 0;
  let cases = 0;
  for (const sample of samples) {
    const options = sample.arch === undefined ? {} : { arch: sample.arch };
    readMachO(sample.bytes, options); // warm up: the first parse pays for compilation, not for the input
    const variants = damagedCopies(sample.bytes, random, 150, 4096);
    for (const variant of variants) {
      const { outcome, elapsed } = timedParse(() => readMachO(variant, options), 50);
      slowest = Math.max(slowest, elapsed);
      cases += 1;
      assert.ok(outcome instanceof Error || (typeof outcome === 'object' && outcome !== null && (outcome as BinaryInfo).format === 'macho'),
        `${sample.name}: a damaged file gave ${String(outcome)}`);
      assert.ok(elapsed < 50, `${sample.name}: a damaged file took ${elapsed.toFixed(1)} ms twice`);
    }
  }
  assert.equal(cases, 900);
  t.diagnostic(`Mach-O damaged-file parses: ${cases}, slowest ${slowest.toFixed(2)} ms`);
});



function ascii(text: string): number[] {
  return Array.from(Buffer.from(text, 'latin1'));
}

/** Offset of the first load command `cmd` in a little-endian 64-bit Mach-O file. */
function findLoadCommand(bytes: Buffer, cmd: number): number {
  const ncmds = bytes.readUInt32LE(16);
  let at = 32;
  for (let i = 0; i < ncmds; i++) {
    if (bytes.readUInt32LE(at) === cmd) return at;
    at += bytes.readUInt32LE(at + 4);
  }
  throw new Error(`no load command 0x${cmd.toString(16)}`);
}

interface SynthesisOptions {
  readonly bits: 32 | 64;
  readonly endian: 'little' | 'big';
  readonly cputype: number;
  readonly filetype?: number;
  readonly sectionName?: string;
  readonly trie?: Uint8Array;
}

/**
 * A minimal Mach-O dylib: one __DATA segment holding the info block, a symbol table (one export, one
 * hidden and one local definition, one import), libSystem as a needed library, and optionally an export trie.
 */
function synthesizeMachO(options: SynthesisOptions): Buffer {
  const { bits, endian } = options;
  const wide = bits === 64;
  const headerSize = wide ? 32 : 28;
  const segmentSize = (wide ? 72 : 56) + (wide ? 80 : 68);
  const dylibName = '/usr/lib/libSystem.B.dylib\0';
  const dylibSize = Math.ceil((24 + dylibName.length) / 8) * 8;
  const trieSize = options.trie === undefined ? 0 : 16;
  const sizeofcmds = segmentSize + 24 + dylibSize + trieSize;
  const infoAt = headerSize + sizeofcmds;
  const info = Buffer.from(`${INFO}\0`, 'utf8');
  const symbols = [
    { name: '_napi_register_module_v1', type: 0x0f, sect: 1, value: 0x1000 },
    { name: '_hidden_helper', type: 0x1f, sect: 1, value: 0x1010 },
    { name: '_local_helper', type: 0x0e, sect: 1, value: 0x1020 },
    { name: '_napi_create_object', type: 0x01, sect: 0, value: 0 },
  ];
  const nlistSize = wide ? 16 : 12;
  const symoff = infoAt + info.length + ((8 - ((infoAt + info.length) % 8)) % 8);
  const stroff = symoff + symbols.length * nlistSize;
  const strings = Buffer.concat([Buffer.from([0x20, 0]), ...symbols.map((s) => Buffer.from(`${s.name}\0`, 'latin1'))]);
  const trieOff = stroff + strings.length;
  const out = Buffer.alloc(trieOff + (options.trie?.length ?? 0));
  const u32 = (value: number, at: number): number => (endian === 'little' ? out.writeUInt32LE(value >>> 0, at) : out.writeUInt32BE(value >>> 0, at));
  const word = (value: number, at: number): number => (wide
    ? (endian === 'little' ? out.writeBigUInt64LE(BigInt(value), at) : out.writeBigUInt64BE(BigInt(value), at))
    : u32(value, at));
  u32(wide ? 0xfeedfacf : 0xfeedface, 0);
  u32(options.cputype, 4);
  u32(options.filetype ?? 6, 12);
  u32(3 + (options.trie === undefined ? 0 : 1), 16);
  u32(sizeofcmds, 20);
  let at = headerSize;
  // Segment __DATA with one section.
  u32(wide ? LC_SEGMENT_64 : LC_SEGMENT, at);
  u32(segmentSize, at + 4);
  out.write('__DATA', at + 8, 'latin1');
  word(0x2000, at + 24);
  word(0x1000, at + (wide ? 32 : 28));
  word(infoAt, at + (wide ? 40 : 32));
  word(info.length, at + (wide ? 48 : 36));
  u32(1, at + (wide ? 64 : 48));
  const section = at + (wide ? 72 : 56);
  out.write(options.sectionName ?? '__erpmod', section, 'latin1');
  out.write('__DATA', section + 16, 'latin1');
  word(0x2000, section + 32);
  word(info.length, section + (wide ? 40 : 36));
  u32(infoAt, section + (wide ? 48 : 40));
  at += segmentSize;
  u32(LC_SYMTAB, at);
  u32(24, at + 4);
  u32(symoff, at + 8);
  u32(symbols.length, at + 12);
  u32(stroff, at + 16);
  u32(strings.length, at + 20);
  at += 24;
  u32(LC_LOAD_DYLIB, at);
  u32(dylibSize, at + 4);
  u32(24, at + 8);
  out.write(dylibName, at + 24, 'latin1');
  at += dylibSize;
  if (options.trie !== undefined) {
    u32(LC_DYLD_EXPORTS_TRIE, at);
    u32(16, at + 4);
    u32(trieOff, at + 8);
    u32(options.trie.length, at + 12);
    out.set(options.trie, trieOff);
  }
  info.copy(out, infoAt);
  let strx = 2;
  symbols.forEach((symbol, i) => {
    const entry = symoff + i * nlistSize;
    u32(strx, entry);
    out[entry + 4] = symbol.type;
    out[entry + 5] = symbol.sect;
    word(symbol.value, entry + 8);
    strx += symbol.name.length + 1;
  });
  strings.copy(out, stroff);
  return out;
}
