/**
 * better-sqlite3's addon built for another Node major, so the host itself (registry and module databases)
 * runs on that runtime. The host's other dependencies are plain JavaScript; this is its one native one.
 *
 * SQLite's C code does not depend on Node, so it is compiled once (or taken from the machine's own
 * better-sqlite3 build) and only the addon source is compiled per runtime, with node-gyp against the headers
 * the `node-<platform>-<arch>` package ships (include/node). Everything lands in the runtime cache
 * (.cache/node-majors/ or $ERPMOD_NODE_CACHE, gitignored):
 *
 *   sqlite3-<better-sqlite3 version>/sqlite3.o                 SQLite, when the machine's build has no sqlite3.a
 *   node-v<version>/include/node/                              the runtime's headers, from its package
 *   better-sqlite3-<version>-node-v<node version>/better_sqlite3.node   the addon, with stamp.json beside it
 */
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { tail, type NodeRuntime } from './obtain-node-runtime';

export interface SqliteBinding {
  readonly file: string;
  readonly source: 'machine' | 'cache' | 'built';
  readonly buildMs: number;
}

interface BindingStamp {
  readonly betterSqlite3: string;
  readonly node: string;
  readonly sha256: string;
}

const root = path.resolve(__dirname, '..', '..');

function betterSqlite3Dir(): { dir: string; version: string } {
  const manifest = require.resolve('better-sqlite3/package.json', { paths: [root] });
  return { dir: path.dirname(manifest), version: (JSON.parse(fs.readFileSync(manifest, 'utf8')) as { version: string }).version };
}

/** The SQLite object every runtime's addon links: the machine build's sqlite3.a, or one compiled here once. */
export function sqliteObject(cacheDir: string): string {
  const { dir, version } = betterSqlite3Dir();
  const machine = path.join(dir, 'build', 'Release', 'sqlite3.a');
  if (fs.existsSync(machine)) return machine;
  const target = path.join(cacheDir, `sqlite3-${version}`, 'sqlite3.o');
  if (fs.existsSync(target)) return target;
  // The same compile-time options better-sqlite3 builds SQLite with (it relies on some, e.g. column metadata).
  const defines = [...fs.readFileSync(path.join(dir, 'deps', 'defines.gypi'), 'utf8').matchAll(/'([A-Z][A-Z0-9_]*(?:=[^']*)?)'/g)].map((m) => `-D${m[1]}`);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const temporary = `${target}.${process.pid}.tmp`;
  const cc = spawnSync('cc', ['-c', '-O2', '-fPIC', '-std=c99', '-w', '-DNDEBUG', ...defines, path.join(dir, 'deps', 'sqlite3', 'sqlite3.c'), '-o', temporary], {
    encoding: 'utf8',
  });
  if (cc.status !== 0) throw new Error(`compiling SQLite for other Node majors failed: ${tail(cc.stderr, 600)}`);
  fs.renameSync(temporary, target);
  return target;
}

/** Extracts the runtime's C headers (package/include) from the package npm fetched for it. */
function runtimeHeaders(runtime: NodeRuntime, cacheDir: string): string {
  const version = runtime.version.replace(/^v/, '');
  const nodeDir = path.join(cacheDir, `node-v${version}`);
  if (fs.existsSync(path.join(nodeDir, 'include', 'node', 'common.gypi'))) return nodeDir;
  fs.mkdirSync(nodeDir, { recursive: true });
  const stamp = JSON.parse(fs.readFileSync(path.join(cacheDir, `node-${runtime.major}.json`), 'utf8')) as { tarball: string };
  const tar = spawnSync('tar', ['xzf', path.join(cacheDir, stamp.tarball), '-C', nodeDir, '--strip-components=1', 'package/include'], { encoding: 'utf8' });
  if (tar.status !== 0) throw new Error(`extracting the headers of Node ${runtime.version} failed: ${tail(tar.stderr, 300)}`);
  return nodeDir;
}

/**
 * The better_sqlite3.node for `runtime`: the machine's own for the machine's Node, a cached build when its
 * stamp matches, otherwise built now (asynchronously, so several runtimes build side by side).
 */
export async function sqliteBindingFor(runtime: NodeRuntime, cacheDir: string, sqlite: string): Promise<SqliteBinding> {
  const started = performance.now();
  const { dir, version } = betterSqlite3Dir();
  if (runtime.source === 'machine') return { file: path.join(dir, 'build', 'Release', 'better_sqlite3.node'), source: 'machine', buildMs: 0 };
  const buildDir = path.join(cacheDir, `better-sqlite3-${version}-node-${runtime.version}`);
  const file = path.join(buildDir, 'better_sqlite3.node');
  const stampFile = path.join(buildDir, 'stamp.json');
  try {
    const stamp = JSON.parse(fs.readFileSync(stampFile, 'utf8')) as BindingStamp;
    if (stamp.betterSqlite3 === version && stamp.node === runtime.version && sha256(file) === stamp.sha256) {
      return { file, source: 'cache', buildMs: 0 };
    }
  } catch {
    // No stamp or no binary: build it.
  }
  const nodeDir = runtimeHeaders(runtime, cacheDir);
  fs.rmSync(buildDir, { recursive: true, force: true });
  fs.mkdirSync(buildDir, { recursive: true });
  // better-sqlite3's own binding.gyp, less the SQLite target: the addon links the object built once.
  const gyp = {
    targets: [
      {
        target_name: 'better_sqlite3',
        // gyp takes sources relative to the .gyp file only.
        sources: [path.relative(buildDir, path.join(dir, 'src', 'better_sqlite3.cpp'))],
        include_dirs: [path.join(dir, 'deps', 'sqlite3')],
        defines: ['NDEBUG'],
        cflags_cc: ['-std=c++20'],
        libraries: [sqlite],
        ldflags: ['-Wl,-Bsymbolic', '-Wl,--exclude-libs,ALL'],
      },
    ],
  };
  fs.writeFileSync(path.join(buildDir, 'binding.gyp'), JSON.stringify(gyp, null, 2));
  const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js', { paths: [root] });
  await run(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodeDir}`, '--loglevel=error'], buildDir, `building better-sqlite3 for Node ${runtime.version}`);
  fs.copyFileSync(path.join(buildDir, 'build', 'Release', 'better_sqlite3.node'), file);
  fs.rmSync(path.join(buildDir, 'build'), { recursive: true, force: true });
  const stamp: BindingStamp = { betterSqlite3: version, node: runtime.version, sha256: sha256(file) };
  fs.writeFileSync(stampFile, `${JSON.stringify(stamp, null, 2)}\n`);
  return { file, source: 'built', buildMs: Math.round(performance.now() - started) };
}

function run(command: string, args: readonly string[], cwd: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: withoutNpmConfig(process.env) });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${what} failed (exit ${code}): ${tail(output, 1200)}`))));
  });
}

/**
 * Under `npm test`, npm exports its configuration as npm_config_* variables, and node-gyp lets those beat its
 * own command line: npm_config_nodedir would build against the running Node's headers, not the runtime's.
 */
function withoutNpmConfig(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.toLowerCase().startsWith('npm_config_')));
}

function sha256(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}
