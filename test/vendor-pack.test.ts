/**
 * Packs, keys and signatures: the tar reader's refusals, keygen, what a pack holds, erpmod verify's
 * verdicts, the host's binary/signature rule for every case of its table, and the trust settings.
 */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { before, describe, it } from 'node:test';
import YAML from 'yaml';
import { loadConfig } from '../host/config/load-config';
import { ErpmodError } from '../host/errors';
import { readManifest } from '../host/compliance/manifest/read-manifest';
import { signManifest } from '../host/packaging/module-signature';
import { packModule } from '../host/packaging/pack-module';
import { generateKeyPair, parsePublicKey, publicKeyText, readPrivateKeyFile } from '../host/packaging/signing-keys';
import { readTarGz, TarFormatError, writeTarGz } from '../host/packaging/tar-archive';
import { checkSignatureRule, hostTrustPolicy, NO_TRUST_POLICY, type TrustPolicy } from '../host/packaging/trust-policy';
import { buildFixtureModule, copyModule } from './fixtures/vendor/built-module';
import { describeRun, erpmod } from './fixtures/vendor/vendor-cli';
import { makeTempDir } from './support/host-process';
import { PLATFORM_KEY } from './support/paths';

const scratch = makeTempDir('vendor-pack');
let moduleDir: string;
let keys: { key: string; pub: string; other: string; otherPub: string };

before(() => {
  moduleDir = buildFixtureModule(scratch, 'packfix');
  const vendor = generateKeyPair(path.join(scratch, 'vendor'));
  const other = generateKeyPair(path.join(scratch, 'other'));
  keys = { key: vendor.privateKeyFile, pub: vendor.publicKeyFile, other: other.privateKeyFile, otherPub: other.publicKeyFile };
});

function isError(code: string, message?: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof ErpmodError, `expected an ErpmodError, got ${String(error)}`);
    assert.equal(error.code, code);
    if (message !== undefined) assert.match(error.message, message);
    return true;
  };
}

/** A gzip'd tar of hand-made headers, for entries the writer refuses to make. */
function handMadeTar(entries: readonly { name: string; type?: string; data?: Buffer; linkname?: string }[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0);
    const h = Buffer.alloc(512);
    h.write(e.name, 0, 100, 'utf8');
    h.write('0000644\0', 100, 'ascii');
    h.write('0000000\0', 108, 'ascii');
    h.write('0000000\0', 116, 'ascii');
    h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
    h.write('00000000000\0', 136, 'ascii');
    h.fill(0x20, 148, 156);
    h.write(e.type ?? '0', 156, 'ascii');
    if (e.linkname !== undefined) h.write(e.linkname, 157, 100, 'utf8');
    h.write('ustar\u000000', 257, 'binary');
    const sum = h.reduce((n, b) => n + b, 0);
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'binary');
    blocks.push(h, data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return zlib.gzipSync(Buffer.concat(blocks));
}

describe('the pack archive format', () => {
  it('round-trips files and modes, reproducibly, and GNU tar reads what it writes', () => {
    const entries = [
      { path: 'm/module.yml', data: Buffer.from('code: m\n') },
      { path: 'm/lib/linux-x64/m.so', data: crypto.randomBytes(3000), mode: 0o755 },
      { path: `m/${'d'.repeat(90)}/${'f'.repeat(60)}.sql`, data: Buffer.from('select 1;') },
    ];
    const packed = writeTarGz(entries);
    assert.deepEqual(writeTarGz(entries), packed, 'the same entries give the same bytes');
    const read = readTarGz(packed);
    assert.deepEqual(read.map((e) => [e.path, e.data.toString('base64'), e.mode]), entries.map((e) => [e.path, e.data.toString('base64'), e.mode ?? 0o644]));
    const file = path.join(scratch, 'roundtrip.tgz');
    fs.writeFileSync(file, packed);
    assert.deepEqual(execFileSync('tar', ['tzf', file], { encoding: 'utf8' }).trim().split('\n'), entries.map((e) => e.path));
  });

  it('refuses links, devices, absolute paths, "..", duplicates, non-gzip, truncated and oversized archives', () => {
    const refuses = (bytes: Buffer, message: RegExp, options = {}): void => {
      assert.throws(() => readTarGz(bytes, options), (error: unknown) => error instanceof TarFormatError && message.test(error.message));
    };
    refuses(handMadeTar([{ name: 'm/lib', type: '2', linkname: '/etc' }]), /"m\/lib" is a symbolic link/);
    refuses(handMadeTar([{ name: 'm/x', type: '1', linkname: 'm/y' }]), /hard link/);
    refuses(handMadeTar([{ name: 'm/dev', type: '3' }]), /device/);
    refuses(handMadeTar([{ name: '/etc/passwd' }]), /is not relative/);
    refuses(handMadeTar([{ name: 'm/../../evil' }]), /"\.\." segment/);
    refuses(handMadeTar([{ name: 'm/a' }, { name: 'm/a' }]), /appears twice/);
    refuses(Buffer.from('not gzip at all'), /not a gzip file/);
    const good = writeTarGz([{ path: 'm/module.yml', data: crypto.randomBytes(5000) }]);
    refuses(good.subarray(0, good.length - 40), /gzip|truncated/);
    refuses(zlib.gzipSync(Buffer.alloc(4096, 1)), /checksum/);
    refuses(writeTarGz([{ path: 'm/big', data: Buffer.alloc(100_000) }]), /more than 50000 bytes/, { maxBytes: 50_000 });
  });
});

describe('erpmod keygen', () => {
  it('writes a 0600 private key and a one-line public key, and never overwrites either', async () => {
    const dir = makeTempDir('keygen');
    const first = await erpmod(['keygen', '--out', 'ops'], dir);
    assert.equal(first.code, 0, describeRun(first));
    assert.equal(fs.statSync(path.join(dir, 'ops.key')).mode & 0o777, 0o600);
    const pub = fs.readFileSync(path.join(dir, 'ops.pub'), 'utf8');
    assert.match(pub, /^[A-Za-z0-9+/]{43}=\n$/);
    assert.equal(publicKeyText(crypto.createPublicKey(readPrivateKeyFile(path.join(dir, 'ops.key')))), pub.trim());
    const before = fs.readFileSync(path.join(dir, 'ops.key'));
    const again = await erpmod(['keygen', '--out', 'ops'], dir);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /ERPMOD_TARGET_EXISTS: ops\.key already exists/);
    assert.deepEqual(fs.readFileSync(path.join(dir, 'ops.key')), before);
  });

  it('reads public keys as base64 or PEM and refuses other key types', () => {
    const { publicKey } = crypto.generateKeyPairSync('ed25519');
    const pem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
    assert.equal(publicKeyText(parsePublicKey(pem, 'pem')), publicKeyText(publicKey));
    const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
    assert.throws(() => parsePublicKey(rsa, 'k'), isError('ERPMOD_KEY_INVALID', /expected an Ed25519 public key, got a rsa key/));
    assert.throws(() => parsePublicKey('c2hvcnQ=', 'k'), isError('ERPMOD_KEY_INVALID', /44 characters of base64/));
  });
});

describe('erpmod pack', () => {
  it('packs module.yml with every built binary pinned, the signature, migrations and README, reproducibly', async () => {
    const out = path.join(scratch, 'a.tgz');
    const result = await erpmod(['pack', moduleDir, '--key', keys.key, '--out', out], scratch);
    assert.equal(result.code, 0, describeRun(result));
    assert.match(result.stdout, /signed by key [0-9a-f]{16}/);
    assert.match(result.stdout, /darwin-arm64 +lib\/darwin-arm64\/packfix\.dylib +not built, not packed/);
    const entries = readTarGz(fs.readFileSync(out));
    assert.deepEqual(entries.map((e) => e.path).sort(), [
      `packfix/lib/${PLATFORM_KEY}/packfix.so`, 'packfix/migrations/001-create-greetings.sql', 'packfix/module.yml', 'packfix/module.yml.sig', 'packfix/README.md',
    ].sort());
    const manifest = entries.find((e) => e.path === 'packfix/module.yml')!.data.toString('utf8');
    const binary = entries.find((e) => e.path.endsWith('.so'))!;
    assert.equal(binary.mode, 0o755);
    const digest = crypto.createHash('sha256').update(binary.data).digest('hex');
    assert.match(manifest, new RegExp(`sha256:\\n  ${PLATFORM_KEY}: "${digest}"\\n`), 'pinned, quoted');
    assert.match(manifest, /^# Packfix: the module's manifest/, 'the vendor\'s comments are kept');
    assert.deepEqual(YAML.parse(manifest).routes, YAML.parse(fs.readFileSync(path.join(moduleDir, 'module.yml'), 'utf8')).routes);
    assert.ok(!fs.readFileSync(path.join(moduleDir, 'module.yml'), 'utf8').includes('sha256'), 'the source module.yml is not touched');

    const again = path.join(scratch, 'b.tgz');
    assert.equal((await erpmod(['pack', moduleDir, '--key', keys.key, '--out', again], scratch)).code, 0);
    assert.deepEqual(fs.readFileSync(again), fs.readFileSync(out), 'packing the same build twice gives the same bytes');
  });

  it('refuses a module with no built binary, and a bad key, before writing anything', async () => {
    const unbuilt = copyModule(moduleDir, makeTempDir('unbuilt'), 'packfix');
    fs.rmSync(path.join(unbuilt, 'lib'), { recursive: true });
    const out = path.join(scratch, 'never.tgz');
    const noBinary = await erpmod(['pack', unbuilt, '--out', out], scratch);
    assert.equal(noBinary.code, 1);
    assert.match(noBinary.stderr, /ERPMOD_PACK_FAILED: .*none of the declared binaries exists \(lib\/linux-x64\/packfix\.so, .*\); build the module first/);
    const badKey = await erpmod(['pack', moduleDir, '--key', keys.pub, '--out', out], scratch);
    assert.equal(badKey.code, 1);
    assert.match(badKey.stderr, /ERPMOD_KEY_INVALID: .*vendor\.pub: expected an Ed25519 private key in PEM/);
    assert.ok(!fs.existsSync(out));
    assert.equal((await erpmod(['pack', moduleDir, 'extra'], scratch)).code, 2);
  });
});

describe('erpmod verify', () => {
  let signed: string;
  let unsigned: string;
  before(() => {
    signed = packModule(moduleDir, { keyFile: keys.key, out: path.join(scratch, 'signed.tgz') }).file;
    unsigned = packModule(moduleDir, { out: path.join(scratch, 'unsigned.tgz') }).file;
  });

  /** The signed pack with its entries changed by `edit`. */
  const altered = (name: string, edit: (entries: { path: string; data: Buffer; mode?: number }[]) => void): string => {
    const entries = readTarGz(fs.readFileSync(signed)).map((e) => ({ ...e }));
    edit(entries);
    const file = path.join(scratch, name);
    fs.writeFileSync(file, writeTarGz(entries));
    return file;
  };

  const cases: { name: string; args: () => string[]; code: number; out: RegExp }[] = [
    { name: 'a pack signed by a trusted key', args: () => [signed, '--trusted-key', keys.pub], code: 0, out: /✔ binary\/signature +signed by trusted key [0-9a-f]{16}\nverified: packfix 1\.0\.0/ },
    { name: 'an intact signature without trusted keys', args: () => [signed], code: 0, out: /intact \(not checked against a trusted key\)/ },
    { name: 'an unsigned pack without trusted keys', args: () => [unsigned], code: 0, out: /· binary\/signature +the module is not signed/ },
    { name: 'an unsigned pack when a key is required', args: () => [unsigned, '--trusted-key', keys.pub], code: 1, out: /✖ binary\/signature +the module is not signed[\s\S]*NOT verified/ },
    { name: 'a pack signed by another key', args: () => [signed, '--trusted-key', keys.otherPub], code: 1, out: /✖ binary\/signature +module\.yml is signed by key [0-9a-f]{16}, which is not among the trusted keys/ },
    {
      name: 'module.yml edited after signing',
      args: () => [altered('edited.tgz', (es) => { const m = es.find((e) => e.path.endsWith('/module.yml'))!; m.data = Buffer.from(m.data.toString().replace('Example Vendor', 'Someone Else')); })],
      code: 1, out: /✖ binary\/signature +the signature by key [0-9a-f]{16} does not match module\.yml: the manifest was changed after it was signed/,
    },
    {
      name: 'a binary changed after packing',
      args: () => [altered('flipped.tgz', (es) => { const b = es.find((e) => e.path.endsWith('.so'))!; b.data = Buffer.from(b.data); b.data[100] ^= 1; }), '--trusted-key', keys.pub],
      code: 1, out: /✖ binary\/sha256 +lib\/linux-x64\/packfix\.so: SHA-256 [0-9a-f]{64} does not match sha256\.linux-x64/,
    },
    {
      name: 'a pinned binary missing from the pack',
      args: () => [altered('nobinary.tgz', (es) => { es.splice(es.findIndex((e) => e.path.endsWith('.so')), 1); })],
      code: 1, out: /✖ binary\/present +lib\/linux-x64\/packfix\.so: sha256\.linux-x64 is pinned but the file is not in the pack/,
    },
    { name: 'a file that is not a pack', args: () => [path.join(moduleDir, 'module.yml')], code: 1, out: /^$/ },
  ];
  for (const c of cases) {
    it(`${c.name}: exit ${c.code}`, async () => {
      const result = await erpmod(['verify', ...c.args()], scratch);
      assert.equal(result.code, c.code, describeRun(result));
      assert.match(result.stdout, c.out);
    });
  }

  it('a binary the manifest does not pin fails binary/sha256; usage errors exit 2', async () => {
    const file = altered('unpinned.tgz', (es) => {
      const m = es.find((e) => e.path.endsWith('/module.yml'))!;
      m.data = Buffer.from(m.data.toString().replace(/\nsha256:\n.*\n/, '\n'));
      es.splice(es.findIndex((e) => e.path.endsWith('.sig')), 1);
    });
    const result = await erpmod(['verify', file], scratch);
    assert.equal(result.code, 1, describeRun(result));
    assert.match(result.stdout, /✖ binary\/sha256 +lib\/linux-x64\/packfix\.so: no sha256\.linux-x64 pins it/);
    const notPack = await erpmod(['verify', path.join(moduleDir, 'module.yml')], scratch);
    assert.match(notPack.stderr, /ERPMOD_PACK_INVALID: .*not a module pack: not a gzip file/);
    assert.equal((await erpmod(['verify'], scratch)).code, 2);
    assert.equal((await erpmod(['verify', signed, '--trusted-key', path.join(scratch, 'missing.pub')], scratch)).code, 1);
  });
});

describe('the host\'s binary/signature rule (module.yml.sig beside module.yml)', () => {
  const vendor = crypto.generateKeyPairSync('ed25519');
  const stranger = crypto.generateKeyPairSync('ed25519');
  const required: TrustPolicy = { trustedKeys: [vendor.publicKey], requireSignature: true };
  const listed: TrustPolicy = { trustedKeys: [vendor.publicKey], requireSignature: false };

  /** An installed-module directory: module.yml (pinned or not) and, optionally, its signature. */
  const installed = (sign: crypto.KeyObject | undefined, options: { pin?: boolean; editAfter?: boolean } = {}): string => {
    const dir = copyModule(moduleDir, makeTempDir('sigrule'), 'packfix');
    const file = path.join(dir, 'module.yml');
    let text = fs.readFileSync(file, 'utf8');
    if (options.pin !== false) {
      const digest = crypto.createHash('sha256').update(fs.readFileSync(path.join(dir, 'lib', PLATFORM_KEY, 'packfix.so'))).digest('hex');
      text += `sha256:\n  ${PLATFORM_KEY}: "${digest}"\n`;
    }
    fs.writeFileSync(file, text);
    if (sign !== undefined) fs.writeFileSync(`${file}.sig`, signManifest(Buffer.from(text), sign));
    if (options.editAfter === true) fs.writeFileSync(file, text.replace('Example Vendor', 'Evil Vendor'));
    return dir;
  };
  const judge = (dir: string, policy: TrustPolicy): string => {
    const result = checkSignatureRule(dir, readManifest(dir).manifest, PLATFORM_KEY, policy);
    if (!result.ran) return 'not run';
    return result.violation === undefined ? 'pass' : `${result.violation.severity}: ${result.violation.message}`;
  };

  it('follows the documented table', () => {
    const signed = installed(vendor.privateKey);
    assert.equal(judge(signed, NO_TRUST_POLICY), 'not run');
    assert.equal(judge(signed, required), 'pass');
    assert.equal(judge(signed, listed), 'pass');

    const tampered = installed(vendor.privateKey, { editAfter: true });
    assert.match(judge(tampered, required), /^error: .*the manifest was changed after it was signed/);
    assert.match(judge(tampered, listed), /^error: /);

    const bare = installed(undefined);
    assert.match(judge(bare, required), /^error: the module is not signed/);
    assert.equal(judge(bare, listed), 'not run');

    const foreign = installed(stranger.privateKey);
    assert.match(judge(foreign, required), /^error: .*not among the trusted keys/);
    assert.match(judge(foreign, listed), /^warning: .*not among the trusted keys/);

    const unpinned = installed(vendor.privateKey, { pin: false });
    assert.match(judge(unpinned, required), /^error: the signed module\.yml pins no sha256\.linux-x64/);
    assert.match(judge(unpinned, listed), /^warning: /);

    fs.writeFileSync(path.join(signed, 'module.yml.sig'), 'erpmod_signature=2\n');
    assert.match(judge(signed, listed), /^error: module\.yml\.sig cannot be read: expected erpmod_signature=1/);
    assert.match(judge(installed(vendor.privateKey), { ...NO_TRUST_POLICY, problem: 'bad config' }), /^error: bad config/);
  });
});

describe('trust settings', () => {
  const cwd = makeTempDir('trust-config');
  const key = publicKeyText(crypto.generateKeyPairSync('ed25519').publicKey);
  const pem = crypto.generateKeyPairSync('ed25519').publicKey;

  it('reads trusted_keys (base64 or PEM) and require_signature from the file and the environment', () => {
    fs.writeFileSync(path.join(cwd, 'erpmod.config.yml'), YAML.stringify({ require_signature: true, trusted_keys: [key, pem.export({ format: 'pem', type: 'spki' }).toString()] }));
    const fromFile = loadConfig({ cwd, env: {} });
    assert.equal(fromFile.requireSignature, true);
    assert.deepEqual(fromFile.trustedKeys, [key, publicKeyText(pem)]);
    const fromEnv = loadConfig({ cwd, env: { ERPMOD_TRUSTED_KEYS: ` ${key} ,${publicKeyText(pem)}`, ERPMOD_REQUIRE_SIGNATURE: 'false' } });
    assert.equal(fromEnv.requireSignature, false);
    assert.deepEqual(fromEnv.trustedKeys, [key, publicKeyText(pem)]);
    fs.rmSync(path.join(cwd, 'erpmod.config.yml'));
    assert.deepEqual([loadConfig({ cwd, env: {} }).trustedKeys, loadConfig({ cwd, env: {} }).requireSignature], [[], false]);
  });

  it('stops with one line on a bad key, a bad boolean, or a requirement without keys', () => {
    const fails = (env: NodeJS.ProcessEnv, message: RegExp): void => {
      assert.throws(() => loadConfig({ cwd, env }), (error: unknown) => {
        isError('ERPMOD_CONFIG_INVALID', message)(error);
        assert.ok(!(error as Error).message.includes('\n'));
        return true;
      });
    };
    fails({ ERPMOD_TRUSTED_KEYS: 'nope' }, /environment variable ERPMOD_TRUSTED_KEYS\[0\]: expected an Ed25519 public key/);
    fails({ ERPMOD_REQUIRE_SIGNATURE: 'maybe' }, /ERPMOD_REQUIRE_SIGNATURE: expected true or false, got "maybe"/);
    fails({ ERPMOD_REQUIRE_SIGNATURE: 'true' }, /require_signature is true: expected at least one trusted_keys entry/);
  });

  it('the host fails closed: trust settings it cannot read refuse every module', () => {
    const unreadable = hostTrustPolicy({ ERPMOD_TRUSTED_KEYS: 'junk' });
    assert.equal(unreadable.requireSignature, true);
    assert.match(unreadable.problem ?? '', /^the host's trust settings cannot be read: .*ERPMOD_TRUSTED_KEYS/);
    const readable = hostTrustPolicy({ ERPMOD_TRUSTED_KEYS: key, ERPMOD_REQUIRE_SIGNATURE: 'true' });
    assert.deepEqual([readable.problem, readable.requireSignature, readable.trustedKeys.map((k) => publicKeyText(k))], [undefined, true, [key]]);
  });
});
