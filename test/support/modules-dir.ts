import fs from 'node:fs';
import path from 'node:path';
import { makeTempDir } from './host-process';
import { FIXTURE_MODULES_DIR, MODULES_DIR } from './paths';

/**
 * A fresh modules directory holding copies of the named fixture modules (test/fixtures/modules/<name>)
 * and example modules (`example:<code>` from modules/), so a test can change files without touching
 * the checkout.
 */
export function makeModulesDir(names: readonly string[]): string {
  const dir = makeTempDir('modules');
  for (const name of names) {
    const source = name.startsWith('example:') ? path.join(MODULES_DIR, name.slice('example:'.length)) : path.join(FIXTURE_MODULES_DIR, name);
    fs.cpSync(source, path.join(dir, path.basename(source)), { recursive: true, filter: (file) => !file.includes(`${path.sep}build${path.sep}`) });
  }
  return dir;
}
