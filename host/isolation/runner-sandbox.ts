import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { findExecutable } from '../find-executable';
import { bwrapSystemView } from '../sandbox/bwrap-system-view';

/** What a runner's sandbox needs to know about the module it confines. */
export interface RunnerSandboxInput {
  readonly code: string;
  /** The module's directory (manifest, migrations), read-only. */
  readonly moduleDir: string;
  /** The checked shadow copy the runner dlopens; its directory is read-only. */
  readonly shadowPath: string;
  /** Migration files the runner reads, wherever they are. */
  readonly migrationPaths: readonly string[];
  /** The host's data directory: only this module's own files in it are visible. */
  readonly dataDir: string;
  /** The runner opens its SQLite file itself (no store prepared by the host). */
  readonly sqlite: boolean;
  /** The module may use the network: it declares `http.allow`, or its database is reached over it. */
  readonly network: boolean;
  /** Directories of Unix sockets the runner connects to (PostgreSQL's, when its host is a path). */
  readonly socketDirs: readonly string[];
  /** What the operator lets every runner read besides (`isolated_sandbox_read`), read-only where it exists. */
  readonly extraReadPaths: readonly string[];
}

/** Whether runners can be confined here, and if not, why (named in the host's one warning). */
export type SandboxSupport = { readonly bwrap: string } | { readonly missing: string };

/** The directory the runner's scripts are compiled to (dist/), which it and its imports run from. */
const DIST_DIR = path.resolve(__dirname, '..', '..');

let support: SandboxSupport | undefined;

/**
 * Probes once per host process: bubblewrap on the PATH, util-linux setpriv (the host's death reaches
 * bwrap through `--pdeathsig`, and the runner through bwrap's `--die-with-parent`), and a trial run of
 * Node inside the same kind of sandbox, which fails where user namespaces are disabled.
 */
export function sandboxSupport(hostEnv: NodeJS.ProcessEnv): SandboxSupport {
  if (support !== undefined) return support;
  support = probe(hostEnv);
  return support;
}

function probe(hostEnv: NodeJS.ProcessEnv): SandboxSupport {
  if (process.platform !== 'linux') return { missing: `no bubblewrap sandbox on ${process.platform}` };
  const bwrap = findExecutable('bwrap', hostEnv.PATH);
  if (bwrap === undefined) return { missing: 'bubblewrap (bwrap) is not on the PATH' };
  if (findExecutable('setpriv', hostEnv.PATH) === undefined) return { missing: "util-linux's setpriv is not on the PATH" };
  // The kernel clears a parent-death signal when it execs a set-user-ID program: a setuid bwrap would
  // outlive a killed host, and so would a runner stuck in native code below it.
  if ((fs.statSync(bwrap).mode & 0o4000) !== 0) return { missing: `${bwrap} is set-user-ID, so a runner below it would not die with the host` };
  const trial = spawnSync(bwrap, [...baseArgs(), ...bwrapSystemView(process.execPath, []), '--', process.execPath, '--version'], {
    encoding: 'utf8',
    timeout: 10_000,
    env: hostEnv,
  });
  if (trial.status === 0) return { bwrap };
  const why = (trial.stderr ?? '').trim().split('\n').at(-1) || trial.error?.message || `exit code ${trial.status}`;
  return { missing: `bubblewrap could not start a sandbox here (${why}); are unprivileged user namespaces disabled?` };
}

/** All namespaces of their own, no capabilities, a new session (no terminal injection), dies with bwrap. */
function baseArgs(): string[] {
  return ['--unshare-all', '--die-with-parent', '--new-session', '--cap-drop', 'ALL'];
}

/** Every node_modules directory Node may resolve the runner's imports from: those above dist/. */
function nodeModulesDirs(): string[] {
  const dirs: string[] = [];
  for (let dir = path.dirname(DIST_DIR); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules');
    if (fs.existsSync(candidate)) dirs.push(candidate);
    if (path.dirname(dir) === dir) return dirs;
  }
}

/**
 * The module's own files in the data directory, created before the sandbox starts so that they can be
 * bound: its SQLite database with its WAL and shared-memory files (SQLite makes them next to the database,
 * where the rest of the directory, other modules' databases, must stay hidden), and its ctx.dataDir.
 */
function ownDataPaths(input: RunnerSandboxInput): string[] {
  const modules = path.join(input.dataDir, 'modules');
  const own = path.join(modules, input.code);
  fs.mkdirSync(own, { recursive: true });
  if (!input.sqlite) return [own];
  const database = path.join(modules, `${input.code}.sqlite`);
  const files = [database, `${database}-wal`, `${database}-shm`];
  for (const file of files) fs.closeSync(fs.openSync(file, 'a'));
  return [own, ...files];
}

/** Files a process that reaches the network reads: name resolution and the system's CA certificates. */
const NETWORK_FILES = ['/etc/resolv.conf', '/etc/hosts', '/etc/nsswitch.conf', '/etc/host.conf', '/etc/gai.conf', '/etc/ssl', '/etc/ca-certificates', '/etc/pki'];

/**
 * bubblewrap's arguments (up to, not including, the command) for a runner: the shared system view,
 * the Node binary's prefix, dist/ and node_modules read-only, the module's directory and shadow copy
 * read-only, its own data files read-write, and the network only when it may use it. `infoFd` is where
 * bwrap writes the pid of its child (runner-process.ts finds the runner below it).
 */
export function runnerSandboxArgs(input: RunnerSandboxInput, hostEnv: NodeJS.ProcessEnv, infoFd: number): string[] {
  const readDirs = [DIST_DIR, ...nodeModulesDirs(), input.moduleDir, path.dirname(input.shadowPath), ...input.migrationPaths.map((file) => path.dirname(file))];
  const args = [...baseArgs(), ...(input.network ? ['--share-net'] : []), ...bwrapSystemView(process.execPath, [...new Set(readDirs)], hostEnv)];
  if (input.network) for (const file of NETWORK_FILES) args.push('--ro-bind-try', file, file);
  // Node reads this file at start whatever the network, and warns on stderr when it cannot.
  const extraCa = hostEnv.NODE_EXTRA_CA_CERTS;
  if (extraCa !== undefined && path.isAbsolute(extraCa)) args.push('--ro-bind-try', extraCa, extraCa);
  for (const dir of input.socketDirs) args.push('--bind-try', dir, dir);
  for (const extra of input.extraReadPaths) args.push('--ro-bind-try', extra, extra);
  for (const own of ownDataPaths(input)) args.push('--bind', own, own);
  args.push('--chdir', '/tmp', '--info-fd', String(infoFd));
  return args;
}
