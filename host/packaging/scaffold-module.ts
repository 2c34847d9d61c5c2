/**
 * `erpmod new`: a complete module directory from native-sdk/templates/: `common/` for every module,
 * then `cpp/` or `c/` (the source) and `gyp/` or `cmake/` (the build glue). Template files end in
 * `.tmpl`; `__CODE__` in a name becomes the code, `gitignore` becomes `.gitignore`, and `{{key}}` in the
 * text is replaced. The directory is written under a temporary name beside its destination and renamed
 * into place, so a failure never leaves half a module.
 */

import fs from 'node:fs';
import path from 'node:path';
import { CODE_PATTERN, RESERVED_CODES } from '../compliance/manifest/manifest-schema';
import { ErpmodError, messageOf } from '../errors';
import { findRepoRoot } from '../../scripts/build-modules';

export const BUILDERS = ['gyp', 'cmake'] as const;
export const LANGUAGES = ['cpp', 'c'] as const;
export type ScaffoldBuilder = (typeof BUILDERS)[number];
export type ScaffoldLanguage = (typeof LANGUAGES)[number];

export interface ScaffoldOptions {
  readonly builder: ScaffoldBuilder;
  readonly language: ScaffoldLanguage;
  /** Directory the module directory is created in; defaults to the current directory. */
  readonly parentDir?: string;
}

export interface ScaffoldResult {
  readonly dir: string;
  /** Relative paths of the files written, sorted. */
  readonly files: readonly string[];
  /** The kit the module's build files and test refer to. */
  readonly kit: KitLocation;
}

/** Why a code is refused (the manifest schema's rule), or undefined when it is acceptable. */
export function codeProblem(code: string): string | undefined {
  if (code.length < 2 || code.length > 40 || !CODE_PATTERN.test(code)) {
    return `expected lowercase kebab-case of 2 to 40 characters (like sales or stock-ledger), got ${JSON.stringify(code)}`;
  }
  if ((RESERVED_CODES as readonly string[]).includes(code)) return `${JSON.stringify(code)} is reserved by the host; choose another code`;
  return undefined;
}

/**
 * @throws ErpmodError ERPMOD_USAGE (bad code), ERPMOD_TARGET_EXISTS (the directory exists).
 */
export function scaffoldModule(code: string, options: ScaffoldOptions): ScaffoldResult {
  const problem = codeProblem(code);
  if (problem !== undefined) throw new ErpmodError('ERPMOD_USAGE', `module code: ${problem}`);
  const parent = path.resolve(options.parentDir ?? '.');
  const dir = path.join(parent, code);
  if (fs.existsSync(dir)) throw new ErpmodError('ERPMOD_TARGET_EXISTS', `${dir} already exists; erpmod new creates a new directory and never writes into an existing one`);

  const kit = locateKit(parent);
  const templates = path.join(findRepoRoot(), 'native-sdk', 'templates');
  const values = templateValues(code, options, dir, kit);
  const files = new Map<string, string>();
  for (const part of ['common', options.language, options.builder]) collect(path.join(templates, part), '', files, code);

  fs.mkdirSync(parent, { recursive: true });
  const staging = fs.mkdtempSync(path.join(parent, `.erpmod-new-${code}-`));
  try {
    for (const [relative, source] of files) {
      const target = path.join(staging, ...relative.split('/'));
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, render(fs.readFileSync(source, 'utf8'), values, source));
    }
    if (fs.existsSync(dir)) throw new ErpmodError('ERPMOD_TARGET_EXISTS', `${dir} appeared while the module was being written; nothing was changed`);
    fs.renameSync(staging, dir);
  } catch (error) {
    fs.rmSync(staging, { recursive: true, force: true });
    if (error instanceof ErpmodError) throw error;
    throw new ErpmodError('ERPMOD_INTERNAL', `cannot write ${dir}: ${messageOf(error)}`, { cause: error });
  }
  return { dir, files: [...files.keys()].sort(), kit };
}

function templateValues(code: string, options: ScaffoldOptions, dir: string, kit: KitLocation): Record<string, string> {
  const words = code.split('-');
  const ext = options.language === 'cpp' ? 'cc' : 'c';
  const relative = (from: string, to: string): string => path.relative(from, to).split(path.sep).join('/');
  return {
    code,
    name: words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join(' '),
    class: words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join(''),
    ident: words.join('_'),
    env_code: words.join('_').toUpperCase(),
    source: `src/${code}.${ext}`,
    language: options.language === 'cpp' ? 'C++ with the erpmod SDK' : 'plain C: node_api.h and erpmod/abi.h',
    builder_name: options.builder === 'gyp' ? 'node-gyp' : 'cmake-js',
    build_file: options.builder === 'gyp' ? 'binding.gyp' : 'CMakeLists.txt',
    sdk_gypi: relative(dir, path.join(kit.root, 'native-sdk', 'gyp', 'erpmod.gypi')),
    sdk_testing: kit.installed ? 'erpmod/testing' : dotted(relative(path.join(dir, 'test'), path.join(kit.root, 'dist', 'native-sdk', 'testing'))),
  };
}

function dotted(relative: string): string {
  return relative.startsWith('.') ? relative : `./${relative}`;
}

export interface KitLocation {
  /** The kit package's root directory (holding package.json, native-sdk/ and dist/). */
  readonly root: string;
  /** True when node's package resolution finds it from the directory: the module refers to `erpmod`. */
  readonly installed: boolean;
}

/**
 * The kit a module created in `parent` builds against: the `erpmod` package node finds from there (what
 * `npm i -D erpmod` installed), else the kit running this command (then the module's files point at it
 * by relative paths, and `erpmod new` says so).
 */
export function locateKit(parent: string): KitLocation {
  // node's node_modules lookup, by hand: require.resolve from inside this package would answer with
  // the package itself (self-reference through its "exports"), wherever `parent` is.
  for (let dir = path.resolve(parent); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', 'erpmod');
    if (fs.existsSync(path.join(candidate, 'package.json'))) return { root: fs.realpathSync(candidate), installed: true };
    if (path.dirname(dir) === dir) return { root: findRepoRoot(), installed: false };
  }
}

function collect(dir: string, prefix: string, files: Map<string, string>, code: string): void {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const source = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      collect(source, `${prefix}${entry.name}/`, files, code);
    } else if (entry.name.endsWith('.tmpl')) {
      let name = entry.name.slice(0, -'.tmpl'.length).replace(/__CODE__/g, code);
      if (name === 'gitignore') name = '.gitignore';
      files.set(`${prefix}${name}`, source);
    }
  }
}

function render(text: string, values: Record<string, string>, source: string): string {
  return text.replace(/\{\{([a-z_]+)\}\}/g, (_match, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`${source}: unknown template key {{${key}}}`);
    return value;
  });
}
