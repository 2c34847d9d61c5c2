/**
 * The vendor guide, run verbatim: docs/vendor-guide.md's `<!-- e2e -->` shell blocks, in order, from an
 * empty temporary directory where the first block installs the kit from `npm pack`'s tarball (as
 * ERPMOD_KIT), for C++ and C modules built with node-gyp and cmake-js, each in a directory below it. The host steps the
 * guide shows unmarked (`erpmod serve`) are done here with the same configuration file. Then what the
 * host must refuse: a pack with one byte of its binary changed, an unsigned pack, an unsigned module
 * copied in by hand (at reload and at boot) — and the running module keeps serving the same build.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { readTarGz, writeTarGz } from '../host/packaging/tar-archive';
import { KIT_NPM_ENV, packKit, provideSqliteBinary } from './fixtures/vendor/kit-package';
import { describeRun, erpmod, run, type RunResult } from './fixtures/vendor/vendor-cli';
import { makeTempDir, startHostProcess, type HostProcess } from './support/host-process';
import { call } from './support/http-client';
import { PLATFORM_KEY, ROOT } from './support/paths';

const GUIDE = path.join(ROOT, 'docs', 'vendor-guide.md');

interface Guide {
  readonly setup: string;
  readonly steps: readonly string[];
}

/** The `<!-- e2e: setup -->` block and every `<!-- e2e -->` block, in document order. */
function readGuide(): Guide {
  const text = fs.readFileSync(GUIDE, 'utf8');
  let setup: string | undefined;
  const steps: string[] = [];
  for (const match of text.matchAll(/<!-- e2e(: setup)? -->\n```sh\n([\s\S]*?)```/g)) {
    if (match[1] !== undefined) setup = match[2]!;
    else steps.push(match[2]!);
  }
  assert.ok(setup !== undefined, 'the guide has an <!-- e2e: setup --> block');
  return { setup, steps };
}

/** Step indexes: KIT runs once; the host is started after INSTALL and before FIRST_REQUEST. */
const STEP = { KIT: 0, NEW: 1, BUILD: 2, PACK: 3, INSTALL: 4, FIRST_REQUEST: 5, UPGRADE: 6 } as const;
const STEP_COUNT = 7;

const VARIANTS = [
  { module: 'hello', builder: 'gyp', language: 'cpp' },
  { module: 'hello-cmake', builder: 'cmake', language: 'cpp' },
  { module: 'hello-c', builder: 'gyp', language: 'c' },
  { module: 'hello-c-cmake', builder: 'cmake', language: 'c' },
] as const;

describe('the vendor guide, verbatim', () => {
  const guide = readGuide();
  const scratch = makeTempDir('vendor-e2e');

  it(`has the ${STEP_COUNT} e2e steps this test drives (kit, new, build, pack, install, request, upgrade)`, () => {
    assert.equal(guide.steps.length, STEP_COUNT, 'the guide\'s <!-- e2e --> blocks changed: update STEP in this test');
    assert.match(guide.steps[STEP.KIT]!, /npm i -D/);
    assert.match(guide.steps[STEP.NEW]!, /erpmod new/);
    assert.match(guide.steps[STEP.INSTALL]!, /erpmod install/);
    assert.match(guide.steps[STEP.FIRST_REQUEST]!, /curl/);
    assert.match(guide.steps[STEP.UPGRADE]!, /--reload/);
  });

  it('installs the kit from its tarball into the empty directory (the guide\'s first step)', { timeout: 300_000 }, async (t) => {
    const packed = packKit(makeTempDir('vendor-e2e-pack'));
    assert.deepEqual(fs.readdirSync(scratch), [], 'starts from an empty directory');
    const env = { ...process.env, ...KIT_NPM_ENV, ERPMOD_KIT: packed };
    const result = await run('bash', ['-euo', 'pipefail', '-c', `${guide.setup}\n${guide.steps[STEP.KIT]!}`], { cwd: scratch, env, timeoutMs: 280_000 });
    t.diagnostic(`kit install: ${(result.ms / 1000).toFixed(1)} s`);
    assert.equal(result.code, 0, `guide step ${STEP.KIT} failed:\n${guide.steps[STEP.KIT]}\n${describeRun(result)}`);
    provideSqliteBinary(scratch);
    assert.ok(fs.existsSync(path.join(scratch, 'node_modules', '.bin', 'erpmod')));
  });

  for (const variant of VARIANTS) {
    it(`${variant.language} with ${variant.builder}: new -> build -> check -> pack -> install -> serve -> upgrade with --reload; tampered and unsigned refused`, { timeout: 240_000 }, async (t) => {
      const work = path.join(scratch, variant.module, 'work');
      const dataDir = path.join(scratch, variant.module, 'data');
      fs.mkdirSync(work, { recursive: true });
      assert.deepEqual(fs.readdirSync(work), [], 'starts from an empty directory');
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        MODULE: variant.module,
        BUILDER: variant.builder,
        LANGUAGE: variant.language,
      };
      // The module's `npm test` must not see this runner's context (its node --test would skip its tests).
      delete env.NODE_TEST_CONTEXT;
      const step = async (index: number): Promise<RunResult> => {
        const result = await run('bash', ['-euo', 'pipefail', '-c', `${guide.setup}\n${guide.steps[index]!}`], { cwd: work, env, timeoutMs: 180_000 });
        t.diagnostic(`step ${index}: ${(result.ms / 1000).toFixed(1)} s`);
        assert.equal(result.code, 0, `guide step ${index} failed:\n${guide.steps[index]}\n${describeRun(result)}`);
        return result;
      };

      await step(STEP.NEW);
      assert.match((await step(STEP.BUILD)).stdout, /# pass 3\n# fail 0/, 'the module\'s unit test ran');
      await step(STEP.PACK);
      await step(STEP.INSTALL);
      const modulesDir = path.join(work, 'modules');
      const moduleDir = path.join(modulesDir, variant.module);
      assert.ok(fs.existsSync(path.join(moduleDir, 'module.yml.sig')), 'install keeps the signature beside module.yml');

      const hostEnv = { ERPMOD_CONFIG: path.join(work, 'erpmod.config.yml') };
      let host: HostProcess = await startHostProcess({ modulesDir, dataDir, env: hostEnv });
      t.after(() => host.stop());
      env.ERPMOD_URL = host.url;
      env.ERPMOD_ADMIN_URL = host.adminUrl;
      env.ERPMOD_DATA_DIR = dataDir;

      const first = await step(STEP.FIRST_REQUEST);
      assert.deepEqual(JSON.parse(first.stdout.trim()), { greeting: 'hello', name: 'ada', count: 1, version: '1.0.0' });

      const upgrade = await step(STEP.UPGRADE);
      assert.match(upgrade.stdout, /the host reloaded [a-z-]+: 1\.0\.0 -> 1\.0\.1, generation 2/);
      const lastLine = upgrade.stdout.trim().split('\n').pop()!;
      assert.deepEqual(JSON.parse(lastLine), { greeting: 'hello', name: 'ada', count: 2, version: '1.0.1' });

      const serving = await snapshot(host, variant.module, modulesDir);
      assert.equal(serving.runtime.version, '1.0.1');
      assert.equal(serving.runtime.generation, 2);

      // One byte of the binary changed after packing: refused under binary/sha256, nothing changes.
      const tampered = path.join(work, 'tampered.tgz');
      fs.writeFileSync(tampered, flipOneByte(fs.readFileSync(path.join(work, `${variant.module}-1.0.1.tgz`)), `${variant.module}/lib/${PLATFORM_KEY}/`));
      const refusedTampered = await erpmod(['install', tampered, '--reload', '--admin-url', host.adminUrl], work, env);
      assert.equal(refusedTampered.code, 1, describeRun(refusedTampered));
      assert.match(refusedTampered.stderr, /ERPMOD_PACK_REJECTED/);
      assert.match(refusedTampered.stderr, new RegExp(`binary/sha256: lib/${PLATFORM_KEY}/${variant.module}\\.[a-z]+: SHA-256 [0-9a-f]{64} does not match`));
      assert.deepEqual(await snapshot(host, variant.module, modulesDir), serving, 'the running module and the modules directory are untouched');

      // An unsigned pack while the host requires signatures: refused under binary/signature.
      const unsigned = await erpmod(['pack', variant.module, '--out', 'unsigned.tgz'], work, env);
      assert.equal(unsigned.code, 0, describeRun(unsigned));
      const refusedUnsigned = await erpmod(['install', 'unsigned.tgz', '--reload', '--admin-url', host.adminUrl], work, env);
      assert.equal(refusedUnsigned.code, 1, describeRun(refusedUnsigned));
      assert.match(refusedUnsigned.stderr, /ERPMOD_PACK_REJECTED: .*unsigned\.tgz is refused:\nbinary\/signature: the module is not signed/);
      assert.deepEqual(await snapshot(host, variant.module, modulesDir), serving, 'the running module and the modules directory are untouched');

      // The same build copied in by hand without its signature: the host refuses to reload it...
      const signature = path.join(moduleDir, 'module.yml.sig');
      fs.renameSync(signature, path.join(work, 'module.yml.sig.kept'));
      const reload = await host.admin(`/plugins/${variant.module}/reload`, 'POST');
      assert.equal(reload.status, 422, reload.text);
      assert.equal(reload.json.error.code, 'ERPMOD_RELOAD_FAILED');
      assert.match(reload.json.error.message, /binary\/signature: the module is not signed/);
      const afterReload = await call(`${host.url}/api/v1/${variant.module}/greetings/ada`);
      assert.equal(afterReload.json.version, '1.0.1', 'the signed build keeps serving');
      assert.equal((await host.admin(`/plugins/${variant.module}`)).json.runtime.generation, 2);

      // ...and, at its next start, rejects it with the reason in the registry.
      await host.stop();
      host = await startHostProcess({ modulesDir, dataDir, env: hostEnv });
      const record = (await host.admin(`/plugins/${variant.module}`)).json;
      assert.equal(record.status, 'rejected');
      assert.match(record.lastError, /^binary\/signature: the module is not signed/);
      assert.equal((await call(`${host.url}/api/v1/${variant.module}/greetings/ada`)).status, 503);
    });
  }
});

interface Snapshot {
  readonly runtime: { version: string; generation: number; sha256: string };
  readonly answer: { version: string };
  readonly modulesDirEntries: string[];
  readonly installedManifest: string;
}

/** What must not change when an install is refused. The greeting count is left out: each call adds one. */
async function snapshot(host: HostProcess, code: string, modulesDir: string): Promise<Snapshot> {
  const plugin = (await host.admin(`/plugins/${code}`)).json;
  const answer = await call(`${host.url}/api/v1/${code}/greetings/snapshot`);
  assert.equal(answer.status, 200, answer.text);
  return {
    runtime: { version: plugin.runtime.version, generation: plugin.runtime.generation, sha256: plugin.runtime.sha256 },
    answer: { version: answer.json.version },
    modulesDirEntries: fs.readdirSync(modulesDir).sort(),
    installedManifest: crypto.createHash('sha256').update(fs.readFileSync(path.join(modulesDir, code, 'module.yml'))).digest('hex'),
  };
}

/** The pack with one byte of the first entry under `prefix` inverted. */
function flipOneByte(pack: Buffer, prefix: string): Buffer {
  const entries = readTarGz(pack);
  const index = entries.findIndex((e) => e.path.startsWith(prefix));
  assert.ok(index >= 0, `the pack has an entry under ${prefix}`);
  const data = Buffer.from(entries[index]!.data);
  const at = Math.floor(data.length / 2);
  data[at] = data[at]! ^ 0xff;
  return writeTarGz(entries.map((e, i) => (i === index ? { ...e, data } : e)));
}
