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

/**
 * Points a copied fixture's `http.allow` (its placeholder `["127.0.0.1:9"]`) at these loopback ports, the
 * servers a test started.
 */
export function allowLoopbackPorts(modulesDir: string, name: string, ports: readonly number[]): void {
  const manifest = path.join(modulesDir, name, 'module.yml');
  const allow = ports.map((port) => `"127.0.0.1:${port}"`).join(', ');
  const text = fs.readFileSync(manifest, 'utf8');
  if (!text.includes('allow: ["127.0.0.1:9"]')) throw new Error(`${manifest}: expected the placeholder http.allow ["127.0.0.1:9"]`);
  fs.writeFileSync(manifest, text.replace('allow: ["127.0.0.1:9"]', `allow: [${allow}]`));
}
