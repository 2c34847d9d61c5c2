import fs from 'node:fs';
import path from 'node:path';

/** System directories bwrap makes visible, read-only; merged-/usr symlinks are recreated as symlinks. */
const SYSTEM_DIRS = ['/usr', '/lib', '/lib64', '/lib32', '/libx32', '/bin', '/sbin'];
const SYSTEM_FILES = ['/etc/ld.so.cache', '/etc/ld.so.conf', '/etc/localtime'];

/**
 * The bubblewrap arguments that every sandbox of ours starts from, so that vendor code sees the same
 * base in the checker's load phase and in a runner: the system's program and library directories
 * read-only, the dynamic linker's cache, a fresh empty /tmp, Node's own prefix (a version manager's
 * may live outside /usr), the library search paths the caller set, `readDirs` read-only, and fresh
 * /dev and /proc. Nothing else of the caller's filesystem is visible; callers add their writable paths.
 */
export function bwrapSystemView(node: string, readDirs: readonly string[], env: NodeJS.ProcessEnv = process.env): string[] {
  const args: string[] = [];
  for (const dir of SYSTEM_DIRS) {
    let stat: fs.Stats;
    try {
      stat = fs.lstatSync(dir);
    } catch {
      continue;
    }
    if (stat.isSymbolicLink()) args.push('--symlink', fs.readlinkSync(dir), dir);
    else args.push('--ro-bind', dir, dir);
  }
  for (const file of SYSTEM_FILES) args.push('--ro-bind-try', file, file);
  // A fresh /tmp first: what is bound below may live under the caller's /tmp (a temp dir in tests).
  args.push('--tmpfs', '/tmp');
  const extra = [path.dirname(path.dirname(node)), ...(env.LD_LIBRARY_PATH ?? '').split(':').filter((d) => path.isAbsolute(d))];
  for (const dir of [...extra, ...readDirs]) {
    if (SYSTEM_DIRS.some((s) => dir === s || dir.startsWith(`${s}/`)) && !readDirs.includes(dir)) continue;
    args.push('--ro-bind-try', dir, dir);
  }
  args.push('--dev', '/dev', '--proc', '/proc');
  return args;
}
