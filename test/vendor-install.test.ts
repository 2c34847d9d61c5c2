/**
 * erpmod install's failure modes: each refusal leaves the modules directory byte for byte as it was,
 * with no staging directory left behind; a success replaces a module of the same code; --reload reports
 * a host that finds no such module, or no host at all, as "installed, not reloaded" (exit 3).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import YAML from 'yaml';
import { ErpmodError } from '../host/errors';
import { installPack } from '../host/packaging/install-pack';
import { packModule } from '../host/packaging/pack-module';
import { generateKeyPair, readPublicKeyFile } from '../host/packaging/signing-keys';
import { readTarGz, writeTarGz } from '../host/packaging/tar-archive';
import { NO_TRUST_POLICY, type TrustPolicy } from '../host/packaging/trust-policy';
import { buildFixtureModule, copyModule, treeOf } from './fixtures/vendor/built-module';
import { describeRun, erpmod } from './fixtures/vendor/vendor-cli';
import { makeTempDir, startHostProcess, type HostProcess } from './support/host-process';

const scratch = makeTempDir('vendor-install');
let moduleDir: string;
let signedPack: string;
let trust: TrustPolicy;
let strangerTrust: TrustPolicy;

before(() => {
  moduleDir = buildFixtureModule(scratch, 'instfix');
  const vendor = generateKeyPair(path.join(scratch, 'vendor'));
  const stranger = generateKeyPair(path.join(scratch, 'stranger'));
  signedPack = packModule(moduleDir, { keyFile: vendor.privateKeyFile, out: path.join(scratch, 'instfix-1.0.0.tgz') }).file;
  trust = { trustedKeys: [readPublicKeyFile(vendor.publicKeyFile)], requireSignature: true };
  strangerTrust = { trustedKeys: [readPublicKeyFile(stranger.publicKeyFile)], requireSignature: true };
});

/** A modules directory holding an unrelated module directory, so "untouched" has something to prove. */
function modulesDirWithNeighbour(): string {
  const dir = makeTempDir('modules');
  fs.mkdirSync(path.join(dir, 'other'));
  fs.writeFileSync(path.join(dir, 'other', 'module.yml'), 'code: other\n');
  return dir;
}

async function refuses(pack: string, policy: TrustPolicy, code: string, message: RegExp, modulesDir = modulesDirWithNeighbour()): Promise<void> {
  const before = treeOf(modulesDir);
  await assert.rejects(installPack(pack, { modulesDir, trust: policy }), (error: unknown) => {
    assert.ok(error instanceof ErpmodError, String(error));
    assert.equal(error.code, code);
    assert.match(error.message, message);
    return true;
  });
  assert.deepEqual(treeOf(modulesDir), before, 'the modules directory is exactly as it was');
}

function repack(name: string, edit: (entries: { path: string; data: Buffer; mode?: number }[]) => void): string {
  const entries = readTarGz(fs.readFileSync(signedPack)).map((e) => ({ ...e }));
  edit(entries);
  const file = path.join(scratch, name);
  fs.writeFileSync(file, writeTarGz(entries));
  return file;
}

describe('erpmod install refuses, and changes nothing', () => {
  it('a file that is not a pack, or a pack whose entries escape its directory', async () => {
    const junk = path.join(scratch, 'junk.tgz');
    fs.writeFileSync(junk, 'definitely not a tarball');
    await refuses(junk, trust, 'ERPMOD_PACK_INVALID', /not a module pack: not a gzip file/);
    const twoTops = path.join(scratch, 'two-tops.tgz');
    fs.writeFileSync(twoTops, writeTarGz([{ path: 'a/module.yml', data: Buffer.from('x') }, { path: 'b/module.yml', data: Buffer.from('y') }]));
    await refuses(twoTops, trust, 'ERPMOD_PACK_INVALID', /expected every entry under one <code>\/ directory/);
    const noManifest = path.join(scratch, 'no-manifest.tgz');
    fs.writeFileSync(noManifest, writeTarGz([{ path: 'instfix/README.md', data: Buffer.from('x') }]));
    await refuses(noManifest, trust, 'ERPMOD_PACK_INVALID', /expected instfix\/module\.yml in the pack/);
    await refuses(path.join(scratch, 'missing.tgz'), trust, 'ERPMOD_PACK_INVALID', /expected a readable \.tgz pack, got ENOENT/);
  });

  it('a binary changed after packing (binary/sha256)', async () => {
    const tampered = repack('tampered.tgz', (entries) => {
      const binary = entries.find((e) => e.path.endsWith('.so'))!;
      binary.data = Buffer.from(binary.data);
      binary.data[binary.data.length >> 1] ^= 0x40;
    });
    await refuses(tampered, trust, 'ERPMOD_PACK_REJECTED', /^.*tampered\.tgz is refused:\nbinary\/sha256: lib\/linux-x64\/instfix\.so: SHA-256 [0-9a-f]{64} does not match/);
  });

  it('a pack signed by a key the host does not trust, or not signed, while signatures are required (binary/signature)', async () => {
    await refuses(signedPack, strangerTrust, 'ERPMOD_PACK_REJECTED', /binary\/signature: module\.yml is signed by key [0-9a-f]{16}, which is not among the trusted keys/);
    const unsigned = repack('unsigned.tgz', (entries) => entries.splice(entries.findIndex((e) => e.path.endsWith('.sig')), 1));
    await refuses(unsigned, trust, 'ERPMOD_PACK_REJECTED', /binary\/signature: the module is not signed/);
  });

  it('a pack that fails the compliance check (meta/identity: module.yml says 9.9.9, the library 1.0.0)', async () => {
    const wrong = copyModule(moduleDir, makeTempDir('wrong'), 'instfix');
    const manifest = path.join(wrong, 'module.yml');
    fs.writeFileSync(manifest, fs.readFileSync(manifest, 'utf8').replace('version: 1.0.0', 'version: 9.9.9'));
    const pack = packModule(wrong, { out: path.join(scratch, 'wrong.tgz') }).file;
    await refuses(pack, NO_TRUST_POLICY, 'ERPMOD_PACK_REJECTED', /fails the compliance check:\n(.*\n)*meta\/identity: /);
  });

  it('a directory of that name that holds another module, or no modules directory at all', async () => {
    const modulesDir = modulesDirWithNeighbour();
    fs.mkdirSync(path.join(modulesDir, 'instfix'));
    fs.writeFileSync(path.join(modulesDir, 'instfix', 'module.yml'), 'code: impostor\n');
    await refuses(signedPack, trust, 'ERPMOD_INSTALL_FAILED', /instfix exists but is not module "instfix" \(its module\.yml declares "impostor"\); refusing to replace it/, modulesDir);
    const nowhere = path.join(makeTempDir('nowhere'), 'modules');
    await assert.rejects(installPack(signedPack, { modulesDir: nowhere, trust }), /ERPMOD_INSTALL_FAILED|does not exist/);
    assert.ok(!fs.existsSync(nowhere), 'not created');
  });
});

describe('erpmod install succeeds', () => {
  it('installs, then replaces the same module, keeping module.yml.sig and leaving no staging directory', async () => {
    const modulesDir = modulesDirWithNeighbour();
    const first = await installPack(signedPack, { modulesDir, trust });
    assert.deepEqual([first.code, first.version, first.replaced], ['instfix', '1.0.0', undefined]);
    assert.ok(first.check.ok);
    assert.equal(first.check.modules[0]!.targets[0]!.load.ran, true, 'the load phase ran');
    assert.ok(fs.existsSync(path.join(modulesDir, 'instfix', 'module.yml.sig')));
    const marker = path.join(modulesDir, 'instfix', 'left-by-the-old-install');
    fs.writeFileSync(marker, '');
    const second = await installPack(signedPack, { modulesDir, trust });
    assert.equal(second.replaced, '1.0.0');
    assert.ok(!fs.existsSync(marker), 'the old directory was replaced as a whole');
    assert.deepEqual(fs.readdirSync(modulesDir).sort(), ['instfix', 'other']);
    assert.equal(YAML.parse(fs.readFileSync(path.join(modulesDir, 'instfix', 'module.yml'), 'utf8')).code, 'instfix');
  });
});

describe('erpmod install --reload', () => {
  let host: HostProcess | undefined;
  after(() => host?.stop());

  it('exit 3 when no host answers or the host finds no such module; a new module in the host\'s own modules dir is loaded by the reload', async () => {
    const cwd = makeTempDir('reload-cli');
    const modulesDir = path.join(cwd, 'modules');
    fs.mkdirSync(modulesDir);
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('ERPMOD_')));

    const unreachable = await erpmod(['install', signedPack, '--modules-dir', modulesDir, '--reload', '--host-url', 'http://127.0.0.1:9'], cwd, env);
    assert.equal(unreachable.code, 3, describeRun(unreachable));
    assert.match(unreachable.stdout, /installed instfix 1\.0\.0 -> modules\/instfix\n/);
    assert.match(unreachable.stderr, /ERPMOD_HOST_UNREACHABLE: POST http:\/\/127\.0\.0\.1:9\/plugins\/instfix\/reload: no erpmod host answered .*\(the module is installed; the host did not reload it\)/);

    const served = path.join(cwd, 'served');
    fs.mkdirSync(served);
    host = await startHostProcess({ modulesDir: served });
    // The public port no longer serves operator routes; without a token the admin listener refuses.
    const publicPort = await erpmod(['install', signedPack, '--modules-dir', modulesDir, '--reload', '--host-url', host.url, '--admin-token', host.adminToken], cwd, env);
    assert.equal(publicPort.code, 3, describeRun(publicPort));
    assert.match(publicPort.stderr, /ERPMOD_OPERATOR_ROUTE_MOVED: POST \/plugins\/instfix\/reload is an operator route: .*admin listener at http:\/\/127\.0\.0\.1:\d+/);
    const noToken = await erpmod(['install', signedPack, '--modules-dir', modulesDir, '--reload', '--admin-url', host.adminUrl], cwd, env);
    assert.equal(noToken.code, 3, describeRun(noToken));
    assert.match(noToken.stderr, /ERPMOD_UNAUTHORIZED: .*pass --admin-token/);

    // Installed somewhere the host does not look: it cannot find the module (--host-url: the old name of --admin-url).
    const elsewhere = await erpmod(['install', signedPack, '--modules-dir', modulesDir, '--reload', '--host-url', host.adminUrl, '--admin-token', host.adminToken], cwd, env);
    assert.equal(elsewhere.code, 3, describeRun(elsewhere));
    assert.match(elsewhere.stderr, /the host found no module instfix in its modules directory/);

    // Installed into the host's own modules directory: the reload discovers and loads it, no restart.
    // The token comes from the host's data directory.
    const fresh = await erpmod(['install', signedPack, '--modules-dir', served, '--reload', '--admin-url', host.adminUrl, '--data-dir', host.dataDir], cwd, env);
    assert.equal(fresh.code, 0, describeRun(fresh));
    assert.match(fresh.stdout, /the host reloaded instfix: 1\.0\.0/);
    const plugin = (await host.admin('/plugins/instfix')).json as { status: string; events: { kind: string }[] };
    assert.equal(plugin.status, 'active');
    assert.ok(plugin.events.some((event) => event.kind === 'discovered'));

    assert.equal((await erpmod(['install'], cwd, env)).code, 2);
    assert.equal((await erpmod(['install', signedPack, '--host-url', 'nope'], cwd, env)).code, 2);
  });
});
