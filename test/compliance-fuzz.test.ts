/**
 * Mutation fuzzing of the static phase: thousands of damaged copies of real ELF, Mach-O (thin and
 * universal) and PE libraries go through readBinary and checkStaticBytes. Each must come back as a
 * well-formed result — never an exception, never a hang — within a per-file time bound. Seeded, so a
 * failure names the seed and case that reproduce it.
 */

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { before, describe, it } from 'node:test';
import { checkStaticBytes, defaultCheckTarget, readBinary, readManifest, RULE_IDS } from '../host/compliance';
import type { BinaryInfo, LoadedManifest, StaticReport } from '../host/compliance';
import { makeModuleDir } from './fixtures/checker/build-checker-fixtures';
import { buildMachOFixtures, buildPeFixtures, CROSS_INFO } from './support/build-cross-binaries';
import { MODULES_DIR } from './support/paths';
import { seededRandom } from './support/seeded-random';

const SEED = Number(process.env.ERPMOD_FUZZ_SEED ?? 0x5eed);
const CASES_PER_FORMAT = Number(process.env.ERPMOD_FUZZ_CASES ?? 1000);
const TIME_BOUND_MS = 100;


const EXTREMES = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff];

type Mutation = 'bit-flips' | 'truncate' | 'splice' | 'clobber-head' | 'clobber-tail';
const MUTATIONS: readonly Mutation[] = ['bit-flips', 'truncate', 'splice', 'clobber-head', 'clobber-tail'];

function mutate(original: Buffer, random: () => number, kind: Mutation): Buffer {
  const int = (n: number): number => Math.floor(random() * n);
  const bytes = Buffer.from(original);
  switch (kind) {
    case 'bit-flips': {
      // Half the time in the first 4 KiB, where the headers and load commands live.
      const span = random() < 0.5 ? Math.min(4096, bytes.length) : bytes.length;
      for (let i = 1 + int(16); i > 0; i--) bytes[int(span)]! ^= 1 << int(8);
      return bytes;
    }
    case 'truncate':
      return bytes.subarray(0, random() < 0.5 ? int(Math.min(512, bytes.length)) : int(bytes.length));
    case 'splice': {
      const length = 1 + int(4096);
      const at = int(bytes.length);
      for (let i = at; i < Math.min(bytes.length, at + length); i++) bytes[i] = int(256);
      return bytes;
    }
    case 'clobber-head':
    case 'clobber-tail': {
      // Header fields: offsets, counts and sizes near the start (or the section table near the end).
      for (let i = 1 + int(3); i > 0; i--) {
        const width = [1, 2, 4, 8][int(4)]!;
        const window = Math.min(kind === 'clobber-head' ? 256 : 4096, bytes.length);
        const base = kind === 'clobber-head' ? 0 : bytes.length - window;
        const at = base + int(Math.max(1, window - width));
        const value = random() < 0.6 ? EXTREMES[int(EXTREMES.length)]! : int(0x100000000);
        for (let b = 0; b < width && at + b < bytes.length; b++) bytes[at + b] = b < 4 ? (value >>> (8 * (random() < 0.5 ? b : 3 - b))) & 0xff : int(2) * 0xff;
      }
      return bytes;
    }
  }
}

const FORMATS = new Set(['elf', 'macho', 'pe']);
const ARCHES = new Set(['x64', 'arm64', 'ia32', 'arm', 'ppc64', 's390x', 'riscv64', 'unknown']);
const RULES = new Set<string>(RULE_IDS);

function isStringArray(value: unknown): boolean {
  return Array.isArray(value) && value.every((s) => typeof s === 'string');
}

function assertBinaryInfo(info: BinaryInfo, where: string): void {
  assert.ok(FORMATS.has(info.format), `${where}: format ${String(info.format)}`);
  assert.ok(info.bits === 32 || info.bits === 64, `${where}: bits`);
  assert.ok(info.endian === 'little' || info.endian === 'big', `${where}: endian`);
  assert.ok(ARCHES.has(info.arch), `${where}: arch ${String(info.arch)}`);
  assert.ok(Number.isInteger(info.machine), `${where}: machine`);
  assert.equal(typeof info.isSharedLibrary, 'boolean', `${where}: isSharedLibrary`);
  assert.ok(isStringArray(info.exports) && isStringArray(info.imports) && isStringArray(info.neededLibraries), `${where}: symbol lists`);
  assert.ok(info.declaredNapiFromCode === undefined || Number.isInteger(info.declaredNapiFromCode), `${where}: declaredNapiFromCode`);
  if (info.infoBlock !== undefined) {
    const block = info.infoBlock;
    assert.equal(typeof block.raw, 'string', `${where}: infoBlock.raw`);
    assert.ok(Object.values(block.fields).every((v) => typeof v === 'string'), `${where}: infoBlock.fields`);
    assert.ok(isStringArray(block.unknownKeys) && isStringArray(block.problems), `${where}: infoBlock lists`);
  }
}

function assertReport(report: StaticReport, where: string): void {
  assert.match(report.binarySha256 ?? '', /^[0-9a-f]{64}$/, `${where}: sha256`);
  assert.ok(report.passed.every((id) => RULES.has(id)), `${where}: passed ids`);
  assert.equal(new Set(report.passed).size, report.passed.length, `${where}: passed duplicates`);
  for (const v of report.violations) {
    assert.ok(RULES.has(v.rule), `${where}: rule ${String(v.rule)}`);
    assert.ok(v.severity === 'error' || v.severity === 'warning', `${where}: severity`);
    assert.ok(typeof v.message === 'string' && v.message.length > 0, `${where}: message`);
    for (const key of ['expected', 'found', 'fix', 'file'] as const) {
      assert.ok(v[key] === undefined || typeof v[key] === 'string', `${where}: ${key}`);
    }
    assert.ok(!report.passed.includes(v.rule), `${where}: ${v.rule} both passed and violated`);
  }
  assert.equal(report.ok, report.violations.every((v) => v.severity !== 'error'), `${where}: ok`);
  if (report.binary === undefined) assert.ok(report.violations.some((v) => v.rule === 'binary/format'), `${where}: unparsed without binary/format`);
  else assertBinaryInfo(report.binary, where);
  JSON.stringify(report);
}

interface Subject {
  readonly name: string;
  readonly bytes: Buffer;
  readonly loaded: LoadedManifest;
  readonly platformKey: string;
  readonly declaredPath: string;
}

/** Runs fn, and when it is over the bound runs it again: a slow spell on the machine is not a slow parser. */
function timed<T>(fn: () => T, where: string): T {
  let started = performance.now();
  let result = fn();
  let elapsed = performance.now() - started;
  if (elapsed > TIME_BOUND_MS) {
    started = performance.now();
    result = fn();
    elapsed = performance.now() - started;
  }
  assert.ok(elapsed <= TIME_BOUND_MS, `${where}: ${elapsed.toFixed(1)} ms, over the ${TIME_BOUND_MS} ms bound twice`);
  return result;
}

describe('static phase under mutation fuzzing', () => {
  const subjects: Subject[] = [];
  const target = defaultCheckTarget();

  before(() => {
    const sales = readManifest(path.join(MODULES_DIR, 'sales'));
    subjects.push({
      name: 'ELF sales.so', bytes: fs.readFileSync(path.join(sales.moduleDir, sales.manifest.binaries['linux-x64']!)),
      loaded: sales, platformKey: 'linux-x64', declaredPath: 'lib/linux-x64/sales.so',
    });
    const macho = buildMachOFixtures();
    const pe = buildPeFixtures();
    const cross = readManifest(makeModuleDir(
      { 'darwin-arm64': macho.arm64, 'darwin-x64': macho.fat, 'win32-x64': pe.x64 },
      { code: CROSS_INFO.code, version: CROSS_INFO.version },
    ));
    subjects.push({ name: 'Mach-O arm64', bytes: fs.readFileSync(macho.arm64), loaded: cross, platformKey: 'darwin-arm64', declaredPath: 'crossfix.dylib' });
    subjects.push({ name: 'Mach-O universal', bytes: fs.readFileSync(macho.fat), loaded: cross, platformKey: 'darwin-x64', declaredPath: 'crossfix.dylib' });
    subjects.push({ name: 'PE crossfix.dll', bytes: fs.readFileSync(pe.x64), loaded: cross, platformKey: 'win32-x64', declaredPath: 'crossfix.dll' });
  });

  it('starts from libraries that pass, so the mutations are what fails', () => {
    for (const s of subjects) {
      const report = checkStaticBytes(s.loaded, s.bytes, s.declaredPath, target, { platformKey: s.platformKey });
      assert.deepEqual(report.violations.filter((v) => v.severity === 'error'), [], s.name);
    }
  });

  it(`survives ${CASES_PER_FORMAT} mutations per format (seed ${SEED}): no throw, no hang, a well-formed report each time`, (t) => {
    const random = seededRandom(SEED);
    const tally: Record<string, number> = {};
    // Mach-O gets two subjects (thin, universal), so each format sees CASES_PER_FORMAT cases.
    const plan: [Subject, number][] = [[subjects[0]!, CASES_PER_FORMAT], [subjects[1]!, CASES_PER_FORMAT >> 1],
      [subjects[2]!, CASES_PER_FORMAT - (CASES_PER_FORMAT >> 1)], [subjects[3]!, CASES_PER_FORMAT]];
    let total = 0;
    for (const [subject, cases] of plan) {
      for (let i = 0; i < cases; i++) {
        const kind = MUTATIONS[Math.floor(random() * MUTATIONS.length)]!;
        const bytes = mutate(subject.bytes, random, kind);
        const where = `seed ${SEED}, ${subject.name} case ${i} (${kind}, ${bytes.length} bytes)`;
        const parsed = timed(() => readBinary(bytes, { arch: subject.platformKey.split('-')[1]! }), where);
        if (parsed.ok) assertBinaryInfo(parsed.info, where);
        else assert.ok(typeof parsed.reason === 'string' && parsed.reason.length > 0, `${where}: reason`);
        const report = timed(() => checkStaticBytes(subject.loaded, bytes, subject.declaredPath, target, { platformKey: subject.platformKey }), where);
        assertReport(report, where);
        const outcome = report.ok ? 'ok' : parsed.ok ? 'violations' : 'unreadable';
        tally[outcome] = (tally[outcome] ?? 0) + 1;
        total++;
      }
    }
    t.diagnostic(`outcomes: ${JSON.stringify(tally)}`);
    assert.equal(total, CASES_PER_FORMAT * 3);
    // A fuzzer whose every input is rejected at the magic number tests nothing past it.
    assert.ok((tally.violations ?? 0) + (tally.ok ?? 0) > total / 4, `too few mutants got past the header: ${JSON.stringify(tally)}`);
  });
});
