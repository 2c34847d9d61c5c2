import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { readBinary } from '../host/compliance/binary/read-binary';
import { matchConstantReturn } from '../host/compliance/binary/read-napi-version-from-code';
import type { BinaryInfo } from '../host/compliance/types';
import { buildElfFixtures, canBuildElfFixtures, removeElfFixtures } from './fixtures/compliance/build-elf-fixtures';
import type { ElfFixtureName } from './fixtures/compliance/build-elf-fixtures';
import { synthesizeElf } from './fixtures/compliance/synthesize-elf';
import { seededRandom } from './support/seeded-random';

const native = canBuildElfFixtures();
let fixtures: Record<ElfFixtureName, string>;

function read(name: ElfFixtureName): BinaryInfo {
  const result = readBinary(fs.readFileSync(fixtures[name]));
  assert.ok(result.ok, result.ok ? '' : result.reason);
  return result.info;
}


describe('readBinary on compiled ELF libraries', { skip: native ? false : 'needs Linux and a C compiler' }, () => {
  before(() => { fixtures = buildElfFixtures(); });
  after(() => removeElfFixtures());

  it('reads a compliant library: format, arch, exports, info block, Node-API version from -O2 code', () => {
    const info = read('good');
    assert.equal(info.format, 'elf');
    assert.equal(info.bits, 64);
    assert.equal(info.endian, 'little');
    assert.equal(info.arch, process.arch);
    assert.equal(info.isSharedLibrary, true);
    assert.deepEqual([...info.exports].sort(), ['napi_register_module_v1', 'node_api_module_get_api_version_v1']);
    assert.equal(info.declaredNapiFromCode, 8);
    assert.deepEqual(info.infoBlock?.fields, { erpmod_info: '1', erpmod_abi: '1', code: 'sales', version: '1.4.0', napi: '8', sdk: '0.1.0' });
    assert.deepEqual(info.infoBlock?.problems, []);
  });

  it('reads the Node-API version 10 from the code of a library that would crash Node 20', () => {
    assert.equal(read('napi10').declaredNapiFromCode, 10);
    assert.equal(read('napiDisagrees').declaredNapiFromCode, 10);
    assert.equal(read('napiDisagrees').infoBlock?.fields.napi, '8');
  });

  it('reports no info block when the library has no .erpmod section', () => {
    assert.equal(read('noInfo').infoBlock, undefined);
  });

  it('lists V8 and libuv symbols among the imports', () => {
    const info = read('v8Imports');
    assert.ok(info.imports.includes('_ZN2v87Isolate10GetCurrentEv'));
    assert.ok(info.imports.includes('uv_default_loop'));
    assert.ok(!info.exports.includes('uv_default_loop'));
  });

  it('lists the legacy node_register_module_v115 entry among the exports', () => {
    assert.ok(read('legacy').exports.includes('node_register_module_v115'));
  });

  it('tells an executable from a shared library', () => {
    assert.equal(read('executable').isSharedLibrary, false);
  });

  it('reads DT_NEEDED entries', () => {
    assert.ok(read('v8Imports').neededLibraries.some((lib) => lib.startsWith('libc.so')));
  });

  it('returns ok:false, without throwing, for every truncated copy', () => {
    const bytes = fs.readFileSync(fixtures.good);
    for (let length = 0; length < bytes.length; length += length < 128 ? 1 : 61) {
      const result = readBinary(bytes.subarray(0, length));
      assert.equal(result.ok, false, `prefix of ${length} bytes`);
    }
    assert.equal(readBinary(bytes.subarray(0, bytes.length - 1)).ok, false);
  });

  it('never throws on randomly corrupted copies', () => {
    const original = fs.readFileSync(fixtures.good);
    const next = seededRandom(0xe1f);
    for (let round = 0; round < 2000; round++) {
      const copy = Uint8Array.from(original);
      const flips = 1 + Math.floor(next() * 16);
      for (let i = 0; i < flips; i++) copy[Math.floor(next() * copy.length)] = Math.floor(next() * 256);
      const result = readBinary(copy);
      assert.equal(typeof result.ok, 'boolean');
    }
  });
});

describe('readBinary on synthesised ELF files', () => {
  const exports = [
    { name: 'napi_register_module_v1', defined: true },
    { name: 'node_api_module_get_api_version_v1', defined: true, textOffset: 0 },
    { name: 'napi_create_object', defined: false },
    { name: 'hidden_helper', defined: true, visibility: 2 },
    { name: 'local_helper', defined: true, bind: 0 },
  ];

  it('reads a 32-bit little-endian ia32 library, including mov eax, imm32; ret', () => {
    const bytes = synthesizeElf({
      bits: 32, endian: 'little', machine: 3, symbols: exports, needed: ['libc.so.6'],
      text: Uint8Array.from([0xb8, 0x08, 0, 0, 0, 0xc3]), info: 'erpmod_info=1\ncode=sales\n',
    });
    const result = readBinary(bytes);
    assert.ok(result.ok, result.ok ? '' : result.reason);
    assert.equal(result.info.bits, 32);
    assert.equal(result.info.endian, 'little');
    assert.equal(result.info.arch, 'ia32');
    assert.deepEqual(result.info.exports, ['napi_register_module_v1', 'node_api_module_get_api_version_v1']);
    assert.deepEqual(result.info.imports, ['napi_create_object']);
    assert.deepEqual(result.info.neededLibraries, ['libc.so.6']);
    assert.equal(result.info.declaredNapiFromCode, 8);
    assert.equal(result.info.infoBlock?.fields.code, 'sales');
  });

  it('reads a 32-bit big-endian library', () => {
    const result = readBinary(synthesizeElf({ bits: 32, endian: 'big', machine: 40, symbols: exports, needed: ['libm.so.6'] }));
    assert.ok(result.ok, result.ok ? '' : result.reason);
    assert.equal(result.info.endian, 'big');
    assert.equal(result.info.arch, 'arm');
    assert.equal(result.info.machine, 40);
    assert.deepEqual(result.info.imports, ['napi_create_object']);
    assert.deepEqual(result.info.neededLibraries, ['libm.so.6']);
    assert.equal(result.info.declaredNapiFromCode, undefined);
  });

  it('reads a 64-bit big-endian ppc64 library', () => {
    const result = readBinary(synthesizeElf({ bits: 64, endian: 'big', machine: 21, symbols: exports, info: 'erpmod_info=1\n' }));
    assert.ok(result.ok, result.ok ? '' : result.reason);
    assert.equal(result.info.bits, 64);
    assert.equal(result.info.endian, 'big');
    assert.equal(result.info.arch, 'ppc64');
    assert.deepEqual(result.info.exports, ['napi_register_module_v1', 'node_api_module_get_api_version_v1']);
  });

  it('reads the Node-API version from arm64 code: mov w0, #9; ret', () => {
    const text = new Uint8Array(8);
    new DataView(text.buffer).setUint32(0, 0x52800000 | (9 << 5), true);
    new DataView(text.buffer).setUint32(4, 0xd65f03c0, true);
    const result = readBinary(synthesizeElf({ bits: 64, endian: 'little', machine: 183, symbols: exports, text }));
    assert.ok(result.ok, result.ok ? '' : result.reason);
    assert.equal(result.info.arch, 'arm64');
    assert.equal(result.info.declaredNapiFromCode, 9);
  });

  it('reports a non-ET_DYN file as not a shared library', () => {
    const result = readBinary(synthesizeElf({ bits: 64, endian: 'little', machine: 62, type: 2, symbols: exports }));
    assert.ok(result.ok);
    assert.equal(result.info.isSharedLibrary, false);
  });

  it('refuses forged section counts and symbol tables quickly instead of reading outside the buffer', () => {
    const bytes = synthesizeElf({ bits: 64, endian: 'little', machine: 62, symbols: exports });
    const forged = Uint8Array.from(bytes);
    new DataView(forged.buffer).setUint16(60, 0xfeff, true); // e_shnum far past the file
    const started = process.hrtime.bigint();
    const result = readBinary(forged);
    assert.equal(result.ok, false);
    assert.ok(process.hrtime.bigint() - started < 50_000_000n, 'rejected within 50 ms');
    assert.match(result.ok ? '' : result.reason, /outside the file/);

    const shifted = Uint8Array.from(bytes);
    new DataView(shifted.buffer).setBigUint64(40, 0xffff_ffff_ffffn, true); // e_shoff past the end
    assert.equal(readBinary(shifted).ok, false);
  });

  it('reads a forged table of 100000 symbols sharing one 4000-byte name without scanning it each time', () => {
    const name = `_Z${'x'.repeat(3998)}`;
    const symbols = Array.from({ length: 100_000 }, () => ({ name, defined: true }));
    const bytes = synthesizeElf({ bits: 64, endian: 'little', machine: 62, symbols });
    const started = process.hrtime.bigint();
    const result = readBinary(bytes);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.ok(result.ok, result.ok ? '' : result.reason);
    assert.deepEqual(result.info.exports, [name]);
    // A loose bound on the whole read (a loaded CI machine runs 2-3x slower): it catches a reader whose
    // cost grows faster than the input, not small regressions.
    assert.ok(ms < 1500, `took ${ms.toFixed(0)} ms`);
  });

  it('returns ok:false for random bytes, ELF-looking noise, empty input and unknown magic', () => {
    const next = seededRandom(42);
    for (let round = 0; round < 500; round++) {
      const bytes = Uint8Array.from({ length: Math.floor(next() * 512) }, () => Math.floor(next() * 256));
      if (round % 2 === 0 && bytes.length >= 4) bytes.set([0x7f, 0x45, 0x4c, 0x46]);
      const result = readBinary(bytes);
      assert.equal(typeof result.ok, 'boolean');
    }
    const empty = readBinary(new Uint8Array(0));
    assert.deepEqual(empty, { ok: false, reason: 'the file is empty' });
    const text = readBinary(new TextEncoder().encode('#!/bin/sh\necho hi\n'));
    assert.equal(text.ok, false);
    assert.match(text.ok ? '' : text.reason, /not an ELF, Mach-O or PE file \(first bytes: 23 21 2f 62\)/);
  });
});

describe('matchConstantReturn', () => {
  it('recognises x64 mov eax, imm32; ret with and without endbr64, and the -O0 frame', () => {
    assert.equal(matchConstantReturn('x64', Uint8Array.from([0xb8, 0x08, 0, 0, 0, 0xc3])), 8);
    assert.equal(matchConstantReturn('x64', Uint8Array.from([0xf3, 0x0f, 0x1e, 0xfa, 0xb8, 0x0a, 0, 0, 0, 0xc3])), 10);
    assert.equal(matchConstantReturn('x64', Uint8Array.from([0x55, 0x48, 0x89, 0xe5, 0xb8, 0x09, 0, 0, 0, 0x5d, 0xc3])), 9);
    assert.equal(matchConstantReturn('x64', Uint8Array.from([0xb8, 0xff, 0xff, 0xff, 0x7f, 0xf3, 0xc3])), 2147483647);
  });

  it('recognises arm64 mov w0, #imm; ret, after bti c, and movz + movk', () => {
    const words = (...w: number[]) => {
      const out = new Uint8Array(w.length * 4);
      w.forEach((value, i) => new DataView(out.buffer).setUint32(i * 4, value >>> 0, true));
      return out;
    };
    assert.equal(matchConstantReturn('arm64', words(0x52800100, 0xd65f03c0)), 8);
    assert.equal(matchConstantReturn('arm64', words(0xd503245f, 0x52800140, 0xd65f03c0)), 10);
    assert.equal(matchConstantReturn('arm64', words(0x529fffe0, 0x72afffe0, 0xd65f03c0)), 0x7fffffff);
  });

  it('returns undefined for anything else', () => {
    assert.equal(matchConstantReturn('x64', Uint8Array.from([0xb8, 0x08, 0, 0, 0])), undefined); // no ret
    assert.equal(matchConstantReturn('x64', Uint8Array.from([0x8b, 0x05, 0, 0, 0, 0, 0xc3])), undefined); // load from memory
    assert.equal(matchConstantReturn('x64', new Uint8Array(0)), undefined);
    assert.equal(matchConstantReturn('arm64', Uint8Array.from([0x00, 0x01, 0x80, 0x52])), undefined); // mov without ret
    assert.equal(matchConstantReturn('riscv64', Uint8Array.from([0xb8, 0x08, 0, 0, 0, 0xc3])), undefined);
  });
});
