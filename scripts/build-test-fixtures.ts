/**
 * Builds the fixture modules under test/fixtures/modules/: each directory's fixture.json names the
 * macros that make test/fixtures/native/fixture-module.c misbehave in one way. The flags are the SDK's
 * (hidden visibility, no STB_GNU_UNIQUE, pinned NAPI_VERSION), compiled by the system C compiler.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import YAML from 'yaml';
import { nodeHeadersDir } from './build-modules';

const run = promisify(execFile);
const root = path.resolve(__dirname, '..', '..');
const fixturesDir = path.join(root, 'test', 'fixtures', 'modules');
const source = path.join(root, 'test', 'fixtures', 'native', 'fixture-module.c');
const sdkInclude = path.join(root, 'native-sdk', 'include');

interface FixtureSpec {
  defines: Record<string, string | number | boolean>;
  napi?: number;
  /** A C++ source inside the fixture directory, built against the C++ SDK instead of fixture-module.c. */
  cxx?: string;
  /** A C source inside the fixture directory, built instead of fixture-module.c. */
  c?: string;
  /**
   * Headers of an earlier SDK (a directory relative to the fixture's, searched before native-sdk/include):
   * the files that differ from today's, so the library is built as a vendor built it then.
   */
  sdk?: string;
}


async function buildFixture(dir: string, include: string): Promise<string | undefined> {
  const spec = JSON.parse(fs.readFileSync(path.join(dir, 'fixture.json'), 'utf8')) as FixtureSpec;
  const manifest = YAML.parse(fs.readFileSync(path.join(dir, 'module.yml'), 'utf8')) as { code: string };
  const output = path.join(dir, 'lib', `${process.platform}-${process.arch}`, `${manifest.code}.so`);
  const own = spec.cxx ?? spec.c;
  const entry = own === undefined ? source : path.join(dir, own);
  const earlierSdk = spec.sdk === undefined ? [] : [path.join(dir, spec.sdk)];
  const sdkHeaders = own === undefined ? [path.join(sdkInclude, 'erpmod', 'abi.h')] : [sdkInclude, ...earlierSdk].flatMap((headers) => listHeaders(path.join(headers, 'erpmod')));
  const inputs = [entry, path.join(dir, 'fixture.json'), path.join(dir, 'module.yml'), ...sdkHeaders];
  if (fs.existsSync(output) && inputs.every((input) => fs.statSync(input).mtimeMs <= fs.statSync(output).mtimeMs)) return undefined;

  const defines = Object.entries(spec.defines).map(([name, value]) => (value === true ? `-D${name}` : `-D${name}=${String(value)}`));
  fs.mkdirSync(path.dirname(output), { recursive: true });
  const temporary = `${output}.${process.pid}.tmp`;
  const common = [
    '-shared', '-fPIC', '-O2', '-fvisibility=hidden', '-fno-gnu-unique', '-Wall',
    `-DNAPI_VERSION=${spec.napi ?? 8}`, `-DFIXTURE_CODE="${manifest.code}"`, ...defines, '-I', include, ...earlierSdk.flatMap((headers) => ['-I', headers]), '-I', sdkInclude,
  ];
  if (spec.cxx === undefined) {
    await run('cc', [...common, ...(spec.c === undefined ? [] : ['-std=c99', '-D_POSIX_C_SOURCE=200809L', '-pthread']), entry, '-o', temporary]);
  } else {
    // The C++ SDK's settings (erpmod.gypi): C++17, hidden inline symbols, only the two entry points exported.
    const addonApi = path.dirname(require.resolve('node-addon-api/package.json', { paths: [root] }));
    await run('c++', [
      ...common, '-std=gnu++17', '-fvisibility-inlines-hidden', '-I', addonApi, entry, '-o', temporary,
      `-Wl,--version-script=${path.join(root, 'native-sdk', 'link', 'erpmod-exports.map')}`,
    ]);
  }
  fs.renameSync(temporary, output);
  return output;
}

function listHeaders(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? listHeaders(path.join(dir, entry.name)) : entry.name.endsWith('.h') ? [path.join(dir, entry.name)] : [],
  );
}

async function main(): Promise<void> {
  const started = performance.now();
  const include = nodeHeadersDir();
  const dirs = fs
    .readdirSync(fixturesDir)
    .map((name) => path.join(fixturesDir, name))
    .filter((dir) => fs.existsSync(path.join(dir, 'fixture.json')));
  let built = 0;
  // Two at a time: the machines have two cores.
  for (let i = 0; i < dirs.length; i += 2) {
    const results = await Promise.all(dirs.slice(i, i + 2).map((dir) => buildFixture(dir, include)));
    built += results.filter(Boolean).length;
  }
  process.stdout.write(`test fixtures: ${built} built, ${dirs.length - built} up to date (${Math.round(performance.now() - started)} ms)\n`);
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`building test fixtures failed: ${(error as Error).message}\n`);
    process.exit(1);
  });
}
