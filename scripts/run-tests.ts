/**
 * `npm test` after the build: runs every compiled test file with node's test runner. Files run two at a
 * time (the machine has two cores); each e2e test starts its own host on a random port and temp dirs.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const testDir = path.join(root, 'dist', 'test');
const filter = process.argv.slice(2);

function findTests(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'support' || entry.name === 'fixtures' ? [] : findTests(full);
    return entry.name.endsWith('.test.js') ? [full] : [];
  });
}

const files = findTests(testDir)
  .filter((file) => filter.length === 0 || filter.some((word) => file.includes(word)))
  .sort();
if (files.length === 0) {
  process.stderr.write(`no test files matched under ${testDir}\n`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=2', ...files], { stdio: 'inherit', cwd: root });
process.exit(result.status ?? 1);
