import path from 'node:path';

/** The repository root (tests run from dist/test/...). */
export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const CLI = path.join(ROOT, 'dist', 'host', 'cli', 'erpmod.js');
export const MODULES_DIR = path.join(ROOT, 'modules');
export const FIXTURE_MODULES_DIR = path.join(ROOT, 'test', 'fixtures', 'modules');
export const PLATFORM_KEY = `${process.platform}-${process.arch}`;
export const LIBRARY_EXTENSION = process.platform === 'darwin' ? '.dylib' : process.platform === 'win32' ? '.dll' : '.so';
