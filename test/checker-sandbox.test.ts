/**
 * The checker's load phase is a sandbox, and trust comes before code. The escape probe
 * (checker-probe.c, PROBE_ESCAPE_AT_LOAD) is a library whose static constructor writes a marker file
 * outside its module, connects to a loopback server this test runs, and reports its uid as a load/dlopen
 * finding. Unconfined it does all three (the control case); under `erpmod check` and `erpmod install` it
 * must do none, and an install whose signature the host's trusted_keys do not vouch for must be refused
 * before the constructor runs at all.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readManifest } from '../host/compliance';
import { runLoadCheck } from '../host/compliance/load';
import type { CheckReport, TargetResult } from '../host/compliance/report/check-report';
import { packModule } from '../host/packaging/pack-module';
import { generateKeyPair } from '../host/packaging/signing-keys';
import { buildProbeModule } from './fixtures/checker/build-checker-fixtures';
import { describeRun, erpmod, type RunResult } from './fixtures/vendor/vendor-cli';
import { makeTempDir } from './support/host-process';
import { PLATFORM_KEY } from './support/paths';
import { eventually } from './support/eventually';

const PROBE = /escape-probe ran as uid (\d+); write: ([^;]+); connect: (.+)$/;

const scratch = makeTempDir('checker-sandbox');
let server: net.Server;
let connections = 0;
let port = 0;
let made = 0;

before(async () => {
  server = net.createServer((socket) => {
    connections += 1;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
});
after(() => server.close());

/** A fresh escape-probe module and the marker path its constructor writes. */
function escapeModule(): { dir: string; marker: string } {
  const marker = path.join(scratch, `escaped-${++made}`);
  return { dir: buildProbeModule(['PROBE_ESCAPE_AT_LOAD'], { PROBE_MARKER: marker, PROBE_PORT: port }), marker };
}

function targetOf(result: RunResult): TargetResult {
  const report = JSON.parse(result.stdout) as CheckReport;
  return report.modules[0]!.targets[0]!;
}

function probeFinding(t: TargetResult): { uid: number; write: string; connect: string } {
  const message = t.rules.find((r) => r.id === 'load/dlopen')!.violations.map((v) => v.message).find((m) => PROBE.test(m));
  assert.ok(message !== undefined, 'the probe reported from inside the load phase');
  const [, uid, write, connect] = PROBE.exec(message)!;
  return { uid: Number(uid), write: write!, connect: connect! };
}

/** A bin directory with node, setpriv and unshare but no bwrap: bubblewrap "is not installed". */
function pathWithoutBwrap(): string {
  const bin = path.join(scratch, `bin-${++made}`);
  fs.mkdirSync(bin);
  fs.symlinkSync(process.execPath, path.join(bin, 'node'));
  for (const tool of ['setpriv', 'unshare']) {
    const found = ['/usr/bin', '/bin', '/usr/sbin', '/sbin'].map((d) => path.join(d, tool)).find((p) => fs.existsSync(p));
    if (found !== undefined) fs.symlinkSync(found, path.join(bin, tool));
  }
  return bin;
}

describe('the load phase sandbox', { skip: process.platform !== 'linux' && 'the sandbox is Linux-only' }, () => {
  it('control: unconfined, the probe writes outside its module, connects out and runs as the caller', async () => {
    const { dir, marker } = escapeModule();
    const before = connections;
    const loaded = readManifest(dir);
    const report = await runLoadCheck(loaded, path.join(dir, loaded.manifest.binaries[PLATFORM_KEY]!), { sandbox: 'none' });
    assert.equal(report.sandbox.mechanism, 'none');
    assert.equal(report.sandbox.full, false);
    const message = report.violations.map((v) => v.message).find((m) => PROBE.test(m)) ?? '';
    assert.match(message, /uid \d+; write: ok; connect: ok$/);
    assert.equal(Number(PROBE.exec(message)![1]), process.getuid!());
    assert.ok(fs.existsSync(marker), 'the marker was written');
    await eventually('the listener saw a connection', () => connections > before, 3000);
  });

  it('erpmod check: the constructor cannot write outside, reach the network, or run as root; every rule still reports', async () => {
    const { dir, marker } = escapeModule();
    const before = connections;
    const result = await erpmod(['check', '--format', 'json', dir], dir);
    assert.equal(result.code, 1, describeRun(result));
    const t = targetOf(result);
    assert.deepEqual(t.load.sandbox, { mechanism: 'bwrap', full: true, noWrites: true, noNetwork: true, notRoot: true, note: null });
    const probe = probeFinding(t);
    assert.notEqual(probe.uid, 0, 'not root');
    assert.notEqual(probe.write, 'ok');
    assert.notEqual(probe.connect, 'ok');
    assert.ok(!fs.existsSync(marker), 'no file outside the module');
    assert.equal(connections, before, 'the server saw no connection');
    // The probe's finding fails load/dlopen; the steps after it still ran and passed inside the sandbox.
    const status = Object.fromEntries(t.rules.filter((r) => r.phase === 'load').map((r) => [r.id, r.status]));
    assert.deepEqual(status, { 'load/dlopen': 'fail', 'load/handler': 'pass', 'load/identity': 'pass', 'load/routes': 'pass' });
    assert.equal(t.load.outcome, 'completed');
  });

  it('crashes, aborts and exits inside bubblewrap are still reported as signals and exit codes under the running rule', async () => {
    const cases = [
      { variants: ['PROBE_ABORT_AT_LOAD'] as const, outcome: 'crashed', signal: 'SIGABRT', exitCode: undefined },
      { variants: ['PROBE_EXIT_AT_LOAD'] as const, outcome: 'exited', signal: undefined, exitCode: 3 },
      { variants: ['PROBE_HANDLER_THROWS'] as const, outcome: 'completed', signal: undefined, exitCode: 0 },
    ];
    for (const c of cases) {
      const dir = buildProbeModule(c.variants);
      const loaded = readManifest(dir);
      const report = await runLoadCheck(loaded, path.join(dir, loaded.manifest.binaries[PLATFORM_KEY]!));
      assert.equal(report.sandbox.mechanism, 'bwrap', c.variants[0]);
      assert.deepEqual([report.outcome, report.signal, report.exitCode], [c.outcome, c.signal, c.exitCode], c.variants[0]);
      assert.equal(report.violations[0]?.rule, c.variants[0] === 'PROBE_HANDLER_THROWS' ? 'load/handler' : 'load/dlopen');
    }
  });

  it('without bubblewrap it falls back to namespaces, still without network or root, and says loudly that it is weaker', async () => {
    const { dir } = escapeModule();
    const before = connections;
    const env = { ...process.env, PATH: pathWithoutBwrap() };
    const json = await erpmod(['check', '--format', 'json', dir], dir, env);
    const t = targetOf(json);
    assert.equal(t.load.sandbox?.mechanism, 'unshare', describeRun(json));
    assert.deepEqual([t.load.sandbox?.full, t.load.sandbox?.noNetwork, t.load.sandbox?.notRoot, t.load.sandbox?.noWrites], [false, true, true, false]);
    assert.match(t.load.sandbox?.note ?? '', /bubblewrap could not start.*\(bwrap: bwrap not found on PATH\)/);
    const probe = probeFinding(t);
    assert.notEqual(probe.uid, 0);
    assert.notEqual(probe.connect, 'ok');
    assert.equal(connections, before);

    const text = await erpmod(['check', dir], dir, env);
    assert.match(text.stdout, /load \d+ ms in unshare/);
    assert.match(text.stdout, /⚠ load sandbox weaker than full \(unshare\): bubblewrap could not start/);
    const github = await erpmod(['check', '--format', 'github', dir], dir, env);
    assert.match(github.stdout, /^::warning title=erpmod check · load sandbox weaker than full::unshare: bubblewrap could not start/m);
    const junit = await erpmod(['check', '--format', 'junit', dir], dir, env);
    assert.match(junit.stdout, /<property name="load\.sandbox\.linux-[a-z0-9]+" value="unshare \(weaker than full: /);
  });
});

describe('erpmod install: trust before code', { skip: process.platform !== 'linux' && 'the probe is built for Linux' }, () => {
  let trustedKey: string;
  let signedByVendor: string;
  let signedByStranger: string;
  let unsigned: string;
  let marker: string;

  before(() => {
    const probe = escapeModule();
    marker = probe.marker;
    const vendor = generateKeyPair(path.join(scratch, 'vendor'));
    const stranger = generateKeyPair(path.join(scratch, 'stranger'));
    trustedKey = fs.readFileSync(vendor.publicKeyFile, 'utf8').trim();
    signedByVendor = packModule(probe.dir, { keyFile: vendor.privateKeyFile, out: path.join(scratch, 'vendor.tgz') }).file;
    signedByStranger = packModule(probe.dir, { keyFile: stranger.privateKeyFile, out: path.join(scratch, 'stranger.tgz') }).file;
    unsigned = packModule(probe.dir, { out: path.join(scratch, 'unsigned.tgz') }).file;
  });

  async function install(pack: string, env: Record<string, string>): Promise<RunResult> {
    const cwd = path.join(scratch, `install-${++made}`);
    fs.mkdirSync(path.join(cwd, 'modules'), { recursive: true });
    const result = await erpmod(['install', '--modules-dir', 'modules', pack], cwd, { ...process.env, ...env });
    assert.deepEqual(fs.readdirSync(path.join(cwd, 'modules')), [], 'nothing installed, no staging left');
    return result;
  }

  it('with trusted_keys set (signatures not required), an unsigned or stranger-signed pack is refused before its constructor runs', async () => {
    const before = connections;
    for (const [pack, reason] of [[unsigned, /the module is not signed/], [signedByStranger, /not among the trusted keys/]] as const) {
      const result = await install(pack, { ERPMOD_TRUSTED_KEYS: trustedKey });
      assert.equal(result.code, 1, describeRun(result));
      assert.match(result.stderr, new RegExp(`ERPMOD_PACK_REJECTED: .* is refused:\nbinary/signature: .*${reason.source}.*\n`
        + '\\(the host lists trusted_keys, so erpmod install takes only packs signed by one of them; none of the pack\'s code ran\\)'));
      assert.doesNotMatch(result.stderr, /escape-probe ran|compliance check/);
    }
    assert.ok(!fs.existsSync(marker), 'the constructor never ran');
    assert.equal(connections, before);
  });

  it('with require_signature, the same; a pack signed by the trusted key does reach the (sandboxed) load phase', async () => {
    const required = { ERPMOD_TRUSTED_KEYS: trustedKey, ERPMOD_REQUIRE_SIGNATURE: 'true' };
    const refused = await install(unsigned, required);
    assert.match(refused.stderr, /ERPMOD_PACK_REJECTED: .* is refused:\nbinary\/signature: the module is not signed.*\n\(none of the pack's code ran\)/, describeRun(refused));
    assert.doesNotMatch(refused.stderr, /escape-probe ran/);

    // Trusted, so its code runs — in the sandbox: the probe reports in, and still leaves nothing behind.
    const trusted = await install(signedByVendor, required);
    assert.equal(trusted.code, 1, describeRun(trusted));
    assert.match(trusted.stderr, /fails the compliance check:\nload\/dlopen: escape-probe ran as uid [1-9]\d*; write: (?!ok)/);
    assert.ok(!fs.existsSync(marker));
  });
});
