/**
 * The load-phase child's private directory: a work directory it may write (its HOME and TMPDIR) and,
 * when the checker runs as root, copies of the module and of the child script owned by uid 65534, so the
 * child can be dropped to that uid even when the originals sit in a directory only root can enter (an
 * install's staging directory is 0700). Everything is removed once the child has ended.
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { NOBODY } from './sandbox-plan';

export interface LoadDir {
  readonly root: string;
  readonly workDir: string;
  /** The module directory the child reads: the original, or the copy when the uid is dropped. */
  readonly moduleDir: string;
  /** The library the child dlopens, inside moduleDir. */
  readonly file: string;
  readonly childScript: string;
  readonly dropTo: number | undefined;
  readonly dropProblem: string | undefined;
}

/** Files the child needs next to its script (compiled siblings it requires). */
const CHILD_FILES = ['load-child.js', 'child-protocol.js'];

/**
 * @throws the file system's error when the temp directory cannot be made (the caller reports it as the
 *   checker's own failure).
 */
export function prepareLoadDir(moduleDir: string, file: string, childScript: string, node: string): LoadDir {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'erpmod-load-'));
  const workDir = path.join(root, 'work');
  fs.mkdirSync(workDir);
  const original = { root, workDir, moduleDir, file, childScript, dropTo: undefined, dropProblem: undefined };
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return original;

  const relative = path.relative(moduleDir, file);
  if (relative.startsWith('..') || path.isAbsolute(relative)) {
    return { ...original, dropProblem: `the library ${file} lies outside the module directory, so no copy for uid 65534 was made` };
  }
  const unreachable = [node, path.join(path.dirname(path.dirname(node)), 'lib')].find((p) => fs.existsSync(p) && !othersCanReach(p));
  if (unreachable !== undefined) {
    return { ...original, dropProblem: `uid 65534 cannot reach ${unreachable}, so the child could not be dropped to it` };
  }
  fs.chmodSync(root, 0o755);
  const moduleCopy = path.join(root, 'module');
  const childCopy = path.join(root, 'child');
  // Directories, files and symlinks only: a socket or FIFO in a module directory cannot be copied.
  fs.cpSync(moduleDir, moduleCopy, { recursive: true, verbatimSymlinks: true, filter: (source) => isCopyable(source) });
  fs.mkdirSync(childCopy);
  for (const name of CHILD_FILES) {
    const source = path.join(path.dirname(childScript), name);
    if (fs.existsSync(source)) fs.copyFileSync(source, path.join(childCopy, name));
  }
  chownTree(workDir);
  chownTree(moduleCopy);
  chownTree(childCopy);
  return {
    root,
    workDir,
    moduleDir: moduleCopy,
    file: path.join(moduleCopy, relative),
    childScript: path.join(childCopy, path.basename(childScript)),
    dropTo: NOBODY,
    dropProblem: undefined,
  };
}

export function removeLoadDir(dir: LoadDir): void {
  fs.rmSync(dir.root, { recursive: true, force: true });
}

/** Every directory above `p` is searchable by others and `p` itself is readable by them. */
function othersCanReach(p: string): boolean {
  const target = fs.statSync(p);
  if ((target.mode & 0o004) === 0) return false;
  for (let dir = path.dirname(p); ; dir = path.dirname(dir)) {
    if ((fs.statSync(dir).mode & 0o001) === 0) return false;
    if (dir === path.dirname(dir)) return true;
  }
}

function isCopyable(p: string): boolean {
  const stat = fs.lstatSync(p);
  return stat.isDirectory() || stat.isFile() || stat.isSymbolicLink();
}

function chownTree(p: string): void {
  fs.lchownSync(p, NOBODY, NOBODY);
  if (!fs.lstatSync(p).isDirectory()) return;
  for (const name of fs.readdirSync(p)) chownTree(path.join(p, name));
}
