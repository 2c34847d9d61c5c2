/**
 * Packs are streamed, never held in memory, and bounded: a decompression bomb (a few hundred KB of
 * gzip holding a 500 MiB file) is refused on its header, quickly and in little memory, and a large but
 * acceptable file is unpacked in little memory too. Memory is measured in the erpmod child process.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { packModule } from '../host/packaging/pack-module';
import { buildFixtureModule } from './fixtures/vendor/built-module';
import { describeRun, run, type RunResult } from './fixtures/vendor/vendor-cli';
import { makeTempDir } from './support/host-process';
import { CLI } from './support/paths';

const scratch = makeTempDir('pack-limits');
const PEAK_RSS_PRELOAD = path.join(__dirname, 'support', 'report-peak-rss.js');
/** A Node process running the CLI needs about 60 MB; holding a 120 MiB file would double that. */
const PEAK_RSS_BOUND_MB = 150;
let packed: string;

/** `erpmod <args>` in a child process, with its peak RSS in MB. */
async function erpmodMeasured(args: readonly string[], env: Record<string, string> = {}): Promise<RunResult & { peakMb: number }> {
  const rssFile = path.join(scratch, `rss-${Date.now()}-${Math.random()}`);
  const result = await run(process.execPath, ['-r', PEAK_RSS_PRELOAD, CLI, ...args], { cwd: scratch, env: { ...process.env, ...env, ERPMOD_TEST_PEAK_RSS_FILE: rssFile } });
  return { ...result, peakMb: Math.round(Number(fs.readFileSync(rssFile, 'utf8')) / 1024) };
}

/**
 * The pack made by `erpmod pack`, unpacked, with a sparse file of `bytes` zeros added at `extra`, packed
 * again with GNU tar: a pack any vendor could make, whose extra file takes no disk space here.
 */
function packWithZeros(name: string, extra: string, bytes: number): string {
  const dir = path.join(scratch, name);
  fs.mkdirSync(dir);
  execFileSync('tar', ['-xzf', packed, '-C', dir]);
  const file = path.join(dir, extra);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '');
  fs.truncateSync(file, bytes);
  const out = path.join(scratch, `${name}.tgz`);
  execFileSync('tar', ['--format=ustar', '-czf', out, '-C', dir, extra.split('/')[0]!]);
  return out;
}

before(() => {
  packed = packModule(buildFixtureModule(scratch, 'bigfix'), { out: path.join(scratch, 'bigfix-1.0.0.tgz') }).file;
});

describe('pack size limits', () => {
  it('refuses a small pack holding a 500 MiB file on its header: quickly, in little memory, writing nothing', async (t) => {
    const bomb = packWithZeros('bomb', 'bigfix/lib/linux-x64/huge.so', 500 * 1024 * 1024);
    const packKb = Math.round(fs.statSync(bomb).size / 1024);
    assert.ok(packKb < 2048, `the pack is small (${packKb} KB)`);
    const modulesDir = makeTempDir('bomb-modules');
    const result = await erpmodMeasured(['install', bomb, '--modules-dir', modulesDir, '--static-only']);
    assert.equal(result.code, 1, describeRun(result));
    assert.match(result.stderr, /ERPMOD_PACK_INVALID: .*entry "bigfix\/lib\/linux-x64\/huge\.so" is 524288000 bytes, more than the 134217728 bytes one file may have/);
    t.diagnostic(`pack ${packKb} KB; refused after ${result.ms} ms at a peak RSS of ${result.peakMb} MB`);
    assert.ok(result.peakMb < PEAK_RSS_BOUND_MB, `peak RSS ${result.peakMb} MB`);
    assert.ok(result.ms < 10_000, `refused after ${result.ms} ms`);
    assert.deepEqual(fs.readdirSync(modulesDir), [], 'nothing written to the modules directory, not even a staging directory');
  });

  it('unpacks a 120 MiB file streaming, in little memory (erpmod verify)', async (t) => {
    const big = packWithZeros('big', 'bigfix/README.md', 120 * 1024 * 1024);
    const result = await erpmodMeasured(['verify', big]);
    assert.equal(result.code, 0, describeRun(result));
    assert.match(result.stdout, /verified: bigfix 1\.0\.0/);
    t.diagnostic(`verified after ${result.ms} ms at a peak RSS of ${result.peakMb} MB`);
    assert.ok(result.peakMb < PEAK_RSS_BOUND_MB, `peak RSS ${result.peakMb} MB`);
  });

  it('applies pack_max_bytes to the files together, naming the entry that passes it', async () => {
    const modulesDir = makeTempDir('small-limit-modules');
    const result = await erpmodMeasured(['install', packed, '--modules-dir', modulesDir, '--static-only'], { ERPMOD_PACK_MAX_BYTES: '2000' });
    assert.equal(result.code, 1, describeRun(result));
    assert.match(result.stderr, /ERPMOD_PACK_INVALID: .*entry "bigfix\/[^"]+" brings the archive to \d+ bytes unpacked, more than 2000 bytes/);
    assert.deepEqual(fs.readdirSync(modulesDir), []);
  });
});
