import fs from 'node:fs';
import path from 'node:path';
import { buildGypProject } from '../../scripts/build-modules';
import { ROOT } from './paths';

export interface SalesVariant {
  /** The built library, ready to be copied into a modules directory. */
  readonly library: string;
  /** module.yml text declaring the variant's version. */
  readonly manifest: string;
  readonly version: string;
}

/**
 * A real new build of the sales module that differs only in its version string (in the C++ source and
 * module.yml), built with node-gyp through the SDK's gypi, as a vendor would ship version `version`.
 * Cached under .cache/test-builds/ by version and Node major (test/node-majors-e2e.test.ts runs this under
 * several runtimes at once); rebuilt when the sales sources are newer.
 */
export function buildSalesVariant(version: string): SalesVariant {
  const source = path.join(ROOT, 'modules', 'sales');
  const dir = path.join(ROOT, '.cache', 'test-builds', `sales-${version}-node${process.versions.node.split('.')[0]}`);
  fs.mkdirSync(dir, { recursive: true });
  fs.cpSync(path.join(source, 'src'), path.join(dir, 'src'), { recursive: true });
  const moduleSource = path.join(dir, 'src', 'sales-module.cc');
  const original = fs.readFileSync(moduleSource, 'utf8');
  const patched = original.replace('ERPMOD_MODULE(sales::Sales, "sales", "1.4.0")', `ERPMOD_MODULE(sales::Sales, "sales", "${version}")`);
  if (patched === original) throw new Error('sales-module.cc no longer declares ERPMOD_MODULE(sales::Sales, "sales", "1.4.0"); update this helper');
  fs.writeFileSync(moduleSource, patched);
  const gypi = path.relative(dir, path.join(ROOT, 'native-sdk', 'gyp', 'erpmod.gypi'));
  const sources = fs.readdirSync(path.join(dir, 'src')).filter((file) => file.endsWith('.cc')).map((file) => `src/${file}`);
  fs.writeFileSync(path.join(dir, 'binding.gyp'), JSON.stringify({ targets: [{ target_name: 'sales', includes: [gypi], sources }] }, null, 2));
  const built = buildGypProject(dir, 'sales');
  const manifest = fs.readFileSync(path.join(source, 'module.yml'), 'utf8').replace(/^version: .*$/m, `version: ${version}`);
  return { library: built.output, manifest, version };
}

/** Puts a build in place the way an operator would: new manifest, then `cp` over the installed library. */
export function installSalesVariant(modulesDir: string, variant: SalesVariant): void {
  const target = path.join(modulesDir, 'sales');
  fs.copyFileSync(variant.library, path.join(target, 'lib', `${process.platform}-${process.arch}`, 'sales.so'));
  fs.writeFileSync(path.join(target, 'module.yml'), variant.manifest);
}
