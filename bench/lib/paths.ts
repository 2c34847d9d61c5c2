import fs from 'node:fs';
import path from 'node:path';

/** The repository root, found from the compiled file's location (dist/bench/...). */
export const ROOT = findRoot(__dirname);
export const HOST_CLI = path.join(ROOT, 'dist', 'host', 'cli', 'erpmod.js');
export const MODULES_DIR = path.join(ROOT, 'modules');
export const CACHE_DIR = path.join(ROOT, '.cache', 'bench');

function findRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'host'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no repository root above ${from}`);
  }
}
