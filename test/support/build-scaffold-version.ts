import crypto from 'node:crypto';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { scaffoldModule } from '../../host/packaging/scaffold-module';
import { CLI, ROOT } from './paths';

/**
 * A module made the way a vendor makes one (`erpmod new`, C++ with the SDK, node-gyp; `erpmod build`)
 * at version `version`. Built once per scaffold template, version and Node major under
 * .cache/test-builds/ (a build takes about ten seconds); returns the built module directory.
 */
export function buildScaffoldVersion(code: string, version: string): string {
  // Scaffolded at the depth it is kept at: its build files reach the SDK by relative paths.
  const builds = path.join(ROOT, '.cache', 'test-builds');
  fs.mkdirSync(builds, { recursive: true });
  const scratch = fs.mkdtempSync(path.join(builds, '.scaffold-'));
  try {
    const { dir } = scaffoldModule(code, { builder: 'gyp', language: 'cpp', parentDir: scratch });
    const manifest = path.join(dir, 'module.yml');
    fs.writeFileSync(manifest, fs.readFileSync(manifest, 'utf8').replace(/^version: .*$/m, `version: ${version}`));
    const cached = path.join(builds, `${code}-${version}-node${process.versions.node.split('.')[0]}-${digestOf(dir)}`);
    const moduleDir = path.join(cached, code);
    if (fs.existsSync(path.join(moduleDir, 'lib', 'linux-x64', `${code}.so`))) return moduleDir;
    const built = spawnSync(process.execPath, [CLI, 'build', dir], { encoding: 'utf8' });
    if (built.status !== 0) throw new Error(`erpmod build ${dir} failed: ${built.stdout}${built.stderr}`);
    fs.rmSync(cached, { recursive: true, force: true });
    fs.renameSync(scratch, cached);
    return moduleDir;
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

/** The scaffold's sources and the SDK's headers: a change to either is a new build. */
function digestOf(dir: string): string {
  const hash = crypto.createHash('sha256');
  const visit = (current: string): void => {
    for (const entry of fs.readdirSync(current, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(current, entry.name);
      if (entry.isDirectory()) visit(full);
      else hash.update(entry.name).update(fs.readFileSync(full));
    }
  };
  visit(dir);
  visit(path.join(ROOT, 'native-sdk', 'include'));
  return hash.digest('hex').slice(0, 12);
}
