import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';

import { readBinary } from '../host/compliance/binary/read-binary';
import { readPe } from '../host/compliance/binary/read-pe';
import type { BinaryInfo } from '../host/compliance/types';
import { assertCrossInfoBlock, buildPeFixtures } from './support/build-cross-binaries';
import { seededRandom } from './support/seeded-random';
import { damagedCopies, timedParse } from './support/damaged-copies';

const IMAGE_FILE_MACHINE_AMD64 = 0x8664;
const IMAGE_FILE_MACHINE_I386 = 0x14c;
const INFO = 'erpmod_info=1\nerpmod_abi=1\ncode=handmade\nversion=0.0.1\nnapi=7\nsdk=0.1.0\n';

test('a MinGW-w64 x64 dll reads as a Node-API module importing from node.exe', () => {
  const info = readPe(readFileSync(buildPeFixtures().x64));
  assert.equal(info.format, 'pe');
  assert.equal(info.bits, 64);
  assert.equal(info.endian, 'little');
  assert.equal(info.arch, 'x64');
  assert.equal(info.machine, IMAGE_FILE_MACHINE_AMD64);
  assert.equal(info.isSharedLibrary, true);
  assert.deepEqual([...info.exports].sort(), ['napi_register_module_v1', 'node_api_module_get_api_version_v1']);
  assert.ok(info.imports.includes('napi_create_object'), `imports: ${info.imports.join(', ')}`);
  assert.ok(info.neededLibraries.includes('node.exe'), `needed: ${info.neededLibraries.join(', ')}`);
  assertCrossInfoBlock(info, '.erpmod');
});

test('readBinary sniffs the dll as PE', () => {
  const result = readBinary(readFileSync(buildPeFixtures().x64));
  assert.ok(result.ok, result.ok ? '' : result.reason);
  assert.equal(result.info.format, 'pe');
});

test('a hand-made PE32 dll parses: exports, imports by name and by ordinal, info block, declared version', () => {
  const info = readPe(synthesizePe32({}));
  assert.equal(info.format, 'pe');
  assert.equal(info.bits, 32);
  assert.equal(info.arch, 'ia32');
  assert.equal(info.machine, IMAGE_FILE_MACHINE_I386);
  assert.equal(info.isSharedLibrary, true);
  assert.deepEqual(info.exports, ['napi_register_module_v1', 'node_api_module_get_api_version_v1']);
  assert.deepEqual(info.imports, ['napi_create_object', '#5']);
  assert.deepEqual(info.neededLibraries, ['node.exe']);
  assert.equal(info.infoBlock?.fields.code, 'handmade');
  assert.equal(info.infoBlock?.fields.napi, '7');
  assert.equal(info.declaredNapiFromCode, 7);
});

test('delay-loaded DLLs and their imports are reported like ordinary imports', () => {
  const info = readPe(synthesizePe32({ delayImport: true }));
  assert.deepEqual(info.neededLibraries, ['node.exe', 'USER32.dll']);
  assert.deepEqual(info.imports, ['napi_create_object', '#5']);
});

test('an exe is not a shared library; a file without .erpmod has no info block', () => {
  const info = readPe(synthesizePe32({ characteristics: 0x0102, infoSectionName: '.rsrc' }));
  assert.equal(info.isSharedLibrary, false);
  assert.equal(info.infoBlock, undefined);
});

test('forged counts and unterminated tables are refused at once', () => {
  const base = synthesizePe32({});
  const manyNames = Buffer.from(base);
  manyNames.writeUInt32LE(0x7fffffff, RDATA_RAW + 24);
  assert.throws(() => readPe(manyNames), Error);
  const manySections = Buffer.from(base);
  manySections.writeUInt16LE(0xffff, 0x46);
  assert.throws(() => readPe(manySections), /section table/);
  const noThunkTerminator = Buffer.from(base);
  noThunkTerminator.fill(0x41, RDATA_RAW + 0x70, RDATA_RAW + 0x200);
  assert.throws(() => readPe(noThunkTerminator), Error);
  const badOptionalMagic = Buffer.from(base);
  badOptionalMagic.writeUInt16LE(0x107, 0x58);
  assert.throws(() => readPe(badOptionalMagic), /neither PE32 nor PE32\+/);
  const headerFarAway = Buffer.from(base);
  headerFarAway.writeUInt32LE(0xfffffff0, 0x3c);
  assert.throws(() => readPe(headerFarAway), /implausible/);
});

test('truncated and byte-flipped PE files give a result or an Error, quickly', (t) => {
  const samples: { name: string; bytes: Uint8Array }[] = [
    { name: 'MinGW-w64 x64 dll', bytes: readFileSync(buildPeFixtures().x64) },
    { name: 'hand-made PE32 with delay imports', bytes: synthesizePe32({ delayImport: true }) },
  ];
  const random = seededRandom(0x9e_3779);
  let slowest = 0;
  let cases = 0;
  for (const sample of samples) {
    readPe(sample.bytes); // warm up: the first parse pays for compilation, not for the input
    const variants = damagedCopies(sample.bytes, random, 200, 2048);
    for (const variant of variants) {
      const { outcome, elapsed } = timedParse(() => readPe(variant), 50);
      slowest = Math.max(slowest, elapsed);
      cases += 1;
      assert.ok(outcome instanceof Error || (typeof outcome === 'object' && outcome !== null && (outcome as BinaryInfo).format === 'pe'),
        `${sample.name}: a damaged file gave ${String(outcome)}`);
      assert.ok(elapsed < 50, `${sample.name}: a damaged file took ${elapsed.toFixed(1)} ms twice`);
    }
  }
  assert.equal(cases, 800);
  t.diagnostic(`PE damaged-file parses: ${cases}, slowest ${slowest.toFixed(2)} ms`);
});



const RDATA_RVA = 0x1000;
const RDATA_RAW = 0x200;

interface Pe32Options {
  readonly characteristics?: number;
  readonly infoSectionName?: string;
  readonly delayImport?: boolean;
}

/**
 * A minimal i386 PE32 dll: `.rdata` holds the export directory, an import descriptor for node.exe
 * (one import by name, one by ordinal), optionally a delay-import descriptor for USER32.dll, and the
 * code of the version function (`mov eax, 7; ret`); `.erpmod` holds the info block.
 */
function synthesizePe32(options: Pe32Options): Buffer {
  const out = Buffer.alloc(0x600);
  const rva = (offset: number): number => RDATA_RVA + offset;
  const at = (offset: number): number => RDATA_RAW + offset;
  out.write('MZ', 0, 'latin1');
  out.writeUInt32LE(0x40, 0x3c);
  out.write('PE\0\0', 0x40, 'latin1');
  // COFF header
  out.writeUInt16LE(IMAGE_FILE_MACHINE_I386, 0x44);
  out.writeUInt16LE(2, 0x46);
  out.writeUInt16LE(224, 0x54);
  out.writeUInt16LE(options.characteristics ?? 0x2102, 0x56);
  // Optional header (PE32)
  const optional = 0x58;
  out.writeUInt16LE(0x10b, optional);
  out.writeUInt32LE(0x10000000, optional + 28);
  out.writeUInt32LE(0x1000, optional + 32);
  out.writeUInt32LE(0x200, optional + 36);
  out.writeUInt32LE(0x3000, optional + 56);
  out.writeUInt32LE(0x200, optional + 60);
  out.writeUInt32LE(16, optional + 92);
  const directory = (index: number, address: number, size: number): void => {
    out.writeUInt32LE(address, optional + 96 + index * 8);
    out.writeUInt32LE(size, optional + 100 + index * 8);
  };
  directory(0, rva(0x00), 40);
  directory(1, rva(0x40), 40);
  if (options.delayImport === true) directory(13, rva(0x1c0), 64);
  // Section table
  const info = Buffer.from(`${INFO}\0`, 'utf8');
  const section = (index: number, name: string, address: number, virtualSize: number, raw: number): void => {
    const entry = optional + 224 + index * 40;
    out.write(name, entry, 'latin1');
    out.writeUInt32LE(virtualSize, entry + 8);
    out.writeUInt32LE(address, entry + 12);
    out.writeUInt32LE(0x200, entry + 16);
    out.writeUInt32LE(raw, entry + 20);
  };
  section(0, '.rdata', RDATA_RVA, 0x200, RDATA_RAW);
  section(1, options.infoSectionName ?? '.erpmod', 0x2000, info.length, 0x400);
  info.copy(out, 0x400);
  // Export directory
  out.writeUInt32LE(rva(0x100), at(12));
  out.writeUInt32LE(1, at(16));
  out.writeUInt32LE(2, at(20));
  out.writeUInt32LE(2, at(24));
  out.writeUInt32LE(rva(0x28), at(28));
  out.writeUInt32LE(rva(0x30), at(32));
  out.writeUInt32LE(rva(0x38), at(36));
  out.writeUInt32LE(rva(0x180), at(0x28)); // function 0: node_api_module_get_api_version_v1
  out.writeUInt32LE(rva(0x188), at(0x2c)); // function 1: napi_register_module_v1
  out.writeUInt32LE(rva(0x110), at(0x30));
  out.writeUInt32LE(rva(0x130), at(0x34));
  out.writeUInt16LE(1, at(0x38));
  out.writeUInt16LE(0, at(0x3a));
  // Import descriptor for node.exe, then the all-zero terminator
  out.writeUInt32LE(rva(0x70), at(0x40));
  out.writeUInt32LE(rva(0xf0), at(0x40 + 12));
  out.writeUInt32LE(rva(0x80), at(0x40 + 16));
  for (const table of [0x70, 0x80]) {
    out.writeUInt32LE(rva(0xa0), at(table));
    out.writeUInt32LE(0x80000005, at(table + 4));
  }
  out.write('napi_create_object\0', at(0xa2), 'latin1');
  out.write('node.exe\0', at(0xf0), 'latin1');
  out.write('handmade.dll\0', at(0x100), 'latin1');
  out.write('napi_register_module_v1\0', at(0x110), 'latin1');
  out.write('node_api_module_get_api_version_v1\0', at(0x130), 'latin1');
  Buffer.from([0xb8, 0x07, 0x00, 0x00, 0x00, 0xc3]).copy(out, at(0x180));
  out[at(0x188)] = 0xc3;
  if (options.delayImport === true) {
    out.writeUInt32LE(1, at(0x1c0)); // RVA-based descriptor
    out.writeUInt32LE(rva(0x160), at(0x1c0 + 4));
    out.writeUInt32LE(rva(0x70), at(0x1c0 + 16));
    out.write('USER32.dll\0', at(0x160), 'latin1');
  }
  return out;
}
