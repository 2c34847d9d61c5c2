import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { call } from './support/http-client';
import { makeTempDir, startHostProcess, type HostProcess } from './support/host-process';
import { isRunning, runnerNodePids } from './support/linux-processes';
import { makeModulesDir } from './support/modules-dir';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntilServing(url: string): Promise<void> {
  for (let waited = 0; (await call(url)).status !== 200; waited += 50) {
    assert.ok(waited < 10_000, `${url} did not answer 200 within 10 s`);
    await sleep(50);
  }
}

interface Opened {
  readonly opened: boolean;
  readonly errno: string | null;
}

describe('an isolated module runs in a bubblewrap sandbox', () => {
  let host: HostProcess;
  let modulesDir: string;
  let configFile: string;
  const open = async (target: string): Promise<Opened> => {
    const reply = await call(`${host.url}/api/v1/faulty/open?path=${encodeURIComponent(target)}`);
    assert.equal(reply.status, 200, JSON.stringify(reply.json));
    return reply.json as Opened;
  };

  before(async () => {
    modulesDir = makeModulesDir(['good-alpha', 'isolated-faulty']);
    configFile = path.join(makeTempDir('config'), 'erpmod.config.yml');
    fs.writeFileSync(configFile, 'crash_limit: 10\n');
    host = await startHostProcess({ modulesDir, env: { ERPMOD_CONFIG: configFile, ERPMOD_ISOLATED_MEMORY_MB: '160', ERPMOD_LOG_LEVEL: 'info' } });
  });
  after(async () => {
    assert.equal(await host.stop(), 0);
  });

  // The data directory's path exists inside, holding only the mount points of the module's own files.
  it("sees its own module, not the host's admin token, config file, other modules' data and directories, or home", async () => {
    // What it needs: its own directory and the system's.
    assert.deepEqual(await open(path.join(modulesDir, 'isolated-faulty', 'module.yml')), { path: path.join(modulesDir, 'isolated-faulty', 'module.yml'), opened: true, errno: null });
    assert.equal((await open('/usr/lib')).opened, true);

    const hidden = [
      path.join(host.dataDir, 'admin-token'),
      path.join(host.dataDir, 'modules', 'alpha.sqlite'),
      path.join(host.dataDir, 'shadow', 'alpha'),
      configFile,
      path.join(modulesDir, 'good-alpha'),
      path.join(modulesDir, 'good-alpha', 'module.yml'),
      os.homedir(),
      '/etc/passwd',
      `/proc/${host.child.pid}/root${path.join(host.dataDir, 'admin-token')}`,
    ];
    for (const target of hidden) {
      const sandboxed = await open(target);
      assert.equal(sandboxed.opened, false, `the module opened ${target}`);
      assert.equal(sandboxed.errno, 'ENOENT', `${target}: ${JSON.stringify(sandboxed)}`);
    }
    // The same paths exist for the host: the sandbox hides them, they are not missing.
    for (const target of hidden.slice(0, 7)) assert.ok(fs.existsSync(target), `${target} exists outside the sandbox`);
  });

  it('has its own mount and network namespaces (no http.allow, SQLite), and the host logs the mechanism', async () => {
    const [runner] = runnerNodePids(host.child.pid!);
    assert.ok(runner !== undefined, 'a Node runner runs below the host');
    for (const ns of ['mnt', 'net', 'pid']) assert.notEqual(fs.readlinkSync(`/proc/${runner}/ns/${ns}`), fs.readlinkSync(`/proc/${host.child.pid}/ns/${ns}`), ns);
    assert.ok(host.logs.some((entry) => entry.module === 'faulty' && entry.sandbox === 'bwrap' && entry.network === false), 'the host logs that faulty runs in bubblewrap without network');
  });

  it('still serves, crashes alone, and the memory ceiling kills the process that runs Node', async () => {
    assert.equal((await call(`${host.url}/api/v1/faulty/echo`, 'POST', { a: 1 })).status, 200);
    const [before] = runnerNodePids(host.child.pid!);
    assert.ok(before !== undefined);
    const leak = await call(`${host.url}/api/v1/faulty/leak`);
    assert.equal(leak.status, 502);
    assert.match(leak.json.error.message, /went over its memory ceiling/);
    // bwrap is killed; its init dies with it, and the runner with the init's PID namespace, a moment later.
    for (let waited = 0; isRunning(before); waited += 10) {
      assert.ok(waited < 2000, `the leaking runner ${before} still runs ${waited} ms after the 502`);
      await sleep(10);
    }
    assert.equal((await call(`${host.url}/api/v1/alpha/ping`)).status, 200, 'the host and its in-process module are unharmed');

    await waitUntilServing(`${host.url}/api/v1/faulty/ping`);
    const crash = await call(`${host.url}/api/v1/faulty/crash`);
    assert.equal(crash.status, 502);
    const events = (await host.admin('/plugins/faulty')).json.events as { kind: string; detail: { signal: string | null } }[];
    const crashes = events.filter((event) => event.kind === 'crashed');
    assert.deepEqual(crashes.map((event) => event.detail.signal).sort(), ['SIGKILL', 'SIGSEGV'], JSON.stringify(crashes));
    await waitUntilServing(`${host.url}/api/v1/faulty/ping`);
  });
});

describe('isolated_sandbox_read', () => {
  it("lets runners read an operator's NODE_OPTIONS preload, which they otherwise cannot load", async () => {
    const agent = makeTempDir('agent');
    const preload = path.join(agent, 'preload.js');
    fs.writeFileSync(preload, 'globalThis.agentLoaded = true;\n');
    const env = { NODE_OPTIONS: `--require ${preload}`, ERPMOD_LOG_LEVEL: 'info' };

    const hidden = await startHostProcess({ modulesDir: makeModulesDir(['isolated-faulty']), env });
    try {
      const reply = await call(`${hidden.url}/api/v1/faulty/ping`);
      assert.notEqual(reply.status, 200, 'the runner cannot load a preload it cannot see');
      const failed = (await hidden.admin('/plugins/faulty')).json as { status: string; lastError: string | null };
      assert.equal(failed.status, 'failed');
      assert.match(String(failed.lastError), /Cannot find module '.*preload\.js'.*name others in isolated_sandbox_read/);
    } finally {
      assert.equal(await hidden.stop(), 0);
    }

    const shown = await startHostProcess({ modulesDir: makeModulesDir(['isolated-faulty']), env: { ...env, ERPMOD_ISOLATED_SANDBOX_READ: agent } });
    try {
      assert.equal((await call(`${shown.url}/api/v1/faulty/ping`)).status, 200);
      const opened = await call(`${shown.url}/api/v1/faulty/open?path=${encodeURIComponent(preload)}`);
      assert.equal(opened.json.opened, true);
      const token = await call(`${shown.url}/api/v1/faulty/open?path=${encodeURIComponent(path.join(shown.dataDir, 'admin-token'))}`);
      assert.equal(token.json.opened, false, 'only the named path is added');
    } finally {
      assert.equal(await shown.stop(), 0);
    }
  });
});

describe('without bubblewrap', () => {
  it('warns once, naming what is missing, and runs isolated modules unconfined as before', async () => {
    // setpriv alone on the PATH: the runners still die with the host, but cannot be confined.
    const bin = makeTempDir('no-bwrap');
    const setpriv = (process.env.PATH ?? '').split(':').map((dir) => path.join(dir, 'setpriv')).find((file) => fs.existsSync(file));
    assert.ok(setpriv !== undefined, 'setpriv is on the PATH');
    fs.symlinkSync(setpriv, path.join(bin, 'setpriv'));
    const host = await startHostProcess({ modulesDir: makeModulesDir(['isolated-faulty', 'isolated-noisy']), env: { PATH: bin, ERPMOD_LOG_LEVEL: 'info' } });
    try {
      const warnings = host.logs.filter((entry) => entry.level === 40 && entry.sandbox === 'none');
      assert.equal(warnings.length, 1, JSON.stringify(warnings));
      assert.match(String(warnings[0]!.msg), /isolated modules run unconfined.*bubblewrap \(bwrap\) is not on the PATH/);
      assert.equal(host.logs.filter((entry) => entry.level === 30 && entry.sandbox === 'none').length, 2, 'each runner start says it is unconfined');
      const reply = await call(`${host.url}/api/v1/faulty/open?path=${encodeURIComponent(path.join(host.dataDir, 'admin-token'))}`);
      assert.equal(reply.json.opened, true, 'unconfined, the module reads what the host reads (the reason for the sandbox)');
    } finally {
      assert.equal(await host.stop(), 0);
    }
  });
});
