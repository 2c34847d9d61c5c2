/**
 * How the load-phase child is confined, strongest first. The child runs vendor code (the library's
 * constructors and registration function), so on Linux it starts inside bubblewrap: read-only views of
 * the system's library directories, Node, the checker's child script and the module; writable only an
 * empty /tmp and the private work directory the checker deletes afterwards; no network, its own PID/IPC/UTS namespaces, uid 65534 inside. When the checker runs as root the
 * child is also dropped to uid 65534 outside the namespace (setpriv), so that what it can read is judged
 * as for "nobody", not as for root without capabilities.
 *
 * Each later level is what is left when the one before cannot start (no bwrap, user namespaces
 * disabled): util-linux `unshare` (user + network namespaces: no network, not root, but writes are
 * judged by file permissions only), then a bare uid drop (root only), then nothing. macOS and Windows get
 * no sandbox; the report says so.
 */

import fs from 'node:fs';
import path from 'node:path';
import { bwrapSystemView } from '../../sandbox/bwrap-system-view';

export type SandboxMechanism = 'bwrap' | 'unshare' | 'setpriv' | 'none';

/** What the load phase's child was kept from; `full` when all three hold. */
export interface SandboxInfo {
  readonly mechanism: SandboxMechanism;
  readonly full: boolean;
  /** Writes land only in a private temp dir the checker deletes. */
  readonly noWrites: boolean;
  readonly noNetwork: boolean;
  /** The child's uid is not 0 (inside and, when the checker is root, outside its namespace too). */
  readonly notRoot: boolean;
  /** Why the sandbox is weaker than full; null when it is full. */
  readonly note: string | null;
}

export interface SandboxPlan {
  readonly info: SandboxInfo;
  readonly command: string;
  readonly args: readonly string[];
  /** Set when a tool the level needs is not on the checker's PATH; the level is then not tried. */
  readonly unavailable?: string;
}

export interface SandboxInput {
  /** The Node binary the child runs on. */
  readonly node: string;
  /** The child's script and its arguments. */
  readonly childArgs: readonly string[];
  /** Directories the child reads: the module (or its copy), the child script's directory. */
  readonly readDirs: readonly string[];
  /** The child's private writable directory (its HOME and TMPDIR), deleted after the child ends. */
  readonly workDir: string;
  /** The child's working directory (the module directory or its copy). */
  readonly cwd: string;
  /** Drop to this uid/gid with setpriv first (the checker runs as root); undefined keeps the caller's. */
  readonly dropTo: number | undefined;
  /** Why no uid drop happens although the checker runs as root; part of the report's note. */
  readonly dropProblem: string | undefined;
}

export const NOBODY = 65534;

function info(mechanism: SandboxMechanism, noWrites: boolean, noNetwork: boolean, notRoot: boolean, missing: string): SandboxInfo {
  const full = noWrites && noNetwork && notRoot;
  return { mechanism, full, noWrites, noNetwork, notRoot, note: full ? null : missing };
}

function setprivArgs(uid: number): string[] {
  return ['--reuid', String(uid), '--regid', String(uid), '--clear-groups', '--'];
}

function bwrapArgs(input: SandboxInput): string[] {
  const args = ['--unshare-all', '--die-with-parent', '--new-session', '--cap-drop', 'ALL'];
  args.push(...bwrapSystemView(input.node, input.readDirs));
  args.push('--bind', input.workDir, input.workDir);
  args.push('--uid', String(NOBODY), '--gid', String(NOBODY), '--chdir', input.cwd, '--', input.node, ...input.childArgs);
  return args;
}

/**
 * The levels to try, strongest first; run-load-check starts the first and moves down only when a level
 * fails before the child could report anything (so before any vendor code ran).
 */
export function planSandboxes(input: SandboxInput, platform: NodeJS.Platform = process.platform): SandboxPlan[] {
  const callerIsRoot = process.getuid?.() === 0;
  const notRoot = !callerIsRoot || input.dropTo !== undefined;
  const dropNote = input.dropProblem === undefined ? '' : ` (${input.dropProblem})`;
  const none: SandboxPlan = {
    info: info('none', false, false, !callerIsRoot,
      platform === 'linux'
        ? 'no sandbox could be started (neither bubblewrap nor user namespaces): the library ran with the checker\'s own rights'
        : `no sandbox on ${platform}: the library ran with the checker's own rights; run erpmod check on Linux with bubblewrap for a confined load phase`),
    command: input.node,
    args: input.childArgs,
  };
  if (platform !== 'linux') return [none];

  // Tools are found on the checker's PATH, not the child's, and named by absolute path, so that setpriv
  // does not look bwrap up on a PATH the caller did not choose.
  const tools = { setpriv: findExecutable('setpriv'), bwrap: findExecutable('bwrap'), unshare: findExecutable('unshare') };
  const drop = input.dropTo === undefined ? [] : [tools.setpriv ?? 'setpriv', ...setprivArgs(input.dropTo)];
  const wrap = (rest: readonly string[], sandbox: SandboxInfo): SandboxPlan => {
    const argv = [...drop, ...rest];
    const needed = [...(input.dropTo === undefined ? [] : ['setpriv']), ...(sandbox.mechanism === 'bwrap' || sandbox.mechanism === 'unshare' ? [sandbox.mechanism] : [])];
    const missing = needed.filter((name) => tools[name as keyof typeof tools] === undefined);
    return { info: sandbox, command: argv[0]!, args: argv.slice(1), ...(missing.length === 0 ? {} : { unavailable: `${missing.join(', ')} not found on PATH` }) };
  };
  const plans: SandboxPlan[] = [
    wrap([tools.bwrap ?? 'bwrap', ...bwrapArgs(input)],
      info('bwrap', true, true, notRoot, `the child ran as root outside its namespace${dropNote}`)),
    wrap([tools.unshare ?? 'unshare', '--user', '--net', '--', input.node, ...input.childArgs],
      info('unshare', false, true, notRoot,
        `bubblewrap could not start, so util-linux unshare was used: no network${notRoot ? ', not root' : ''}, but the library could write wherever ${input.dropTo !== undefined ? 'uid 65534' : 'the checking user'} may${dropNote}; install bubblewrap for the full sandbox`)),
  ];
  if (input.dropTo !== undefined) {
    plans.push(wrap([input.node, ...input.childArgs],
      info('setpriv', false, false, true,
        'neither bubblewrap nor user namespaces could start, so the child only ran as uid 65534: it had network access and could write wherever uid 65534 may; install bubblewrap for the full sandbox')));
  }
  plans.push(none);
  return plans;
}

/** The absolute path of `name` on the checker's PATH, or undefined. */
function findExecutable(name: string, searchPath = process.env.PATH ?? ''): string | undefined {
  for (const dir of searchPath.split(path.delimiter)) {
    if (!path.isAbsolute(dir)) continue;
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
