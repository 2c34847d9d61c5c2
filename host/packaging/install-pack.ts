/**
 * `erpmod install`: a pack into the modules directory, all or nothing.
 *
 * 1. Read the pack (bounded, regular files only) and unpack it into
 *    `<modules>/.erpmod-install-XXXXXX/<code>/`: inside the modules directory, so the final rename stays
 *    on one file system, and one level down, so a host discovering `<modules>/*\/module.yml` meanwhile
 *    never sees a half-written module.
 * 2. Verify digests and the signature — when the host lists trusted keys, the pack must be signed by
 *    one of them, whether or not require_signature is set — and only then run the compliance check: the
 *    static phase and, for this machine's binary, the load phase in a sandboxed throw-away child.
 * 3. Rename an existing `<modules>/<code>` aside (into the staging directory), rename the new one into
 *    place; if that fails, rename the old one back. Remove the staging directory.
 *
 *    The pack's bytes go along inside the module directory (kept-pack.ts): a fleet on PostgreSQL hands
 *    them to its other instances at the next reload.
 *
 * Any failure before step 3 leaves the modules directory exactly as it was. `module.yml.sig` stays
 * beside module.yml: it is how the host checks the signature at every boot and reload.
 */

import fs from 'node:fs';
import path from 'node:path';
import type { CheckReport } from '../compliance/report/check-report';
import { runCheck } from '../compliance/run-check';
import { ErpmodError, messageOf } from '../errors';
import { keepPack, sha256Of } from './kept-pack';
import { extractPack, readPack } from './read-pack';
import type { TarLimits } from './tar-parser';
import type { TrustPolicy } from './trust-policy';
import { describeFailures, verifyModuleDir, type Finding } from './verify-module-dir';

export interface InstallOptions {
  readonly modulesDir: string;
  readonly trust: TrustPolicy;
  /** Skip the load phase of the compliance check (never dlopen anything). */
  readonly staticOnly?: boolean;
  readonly timeoutMs?: number;
  /** Bounds on the pack's unpacked size (pack_max_bytes, pack_max_file_bytes); defaults otherwise. */
  readonly packLimits?: Partial<TarLimits>;
}

export interface InstallResult {
  readonly code: string;
  readonly version: string;
  readonly moduleDir: string;
  /** The version that was replaced, when a module with this code was installed. */
  readonly replaced: string | undefined;
  readonly findings: readonly Finding[];
  readonly signedBy: string | undefined;
  readonly check: CheckReport;
  /** The sha256 of the pack file as installed (and kept). */
  readonly packSha256: string;
}

/**
 * @throws ErpmodError ERPMOD_PACK_INVALID (not a pack), ERPMOD_PACK_REJECTED (verification or
 *   compliance failed; the message lists each failed rule), ERPMOD_INSTALL_FAILED (the modules
 *   directory cannot take it). In every case the modules directory is unchanged.
 */
export async function installPack(packFile: string, options: InstallOptions): Promise<InstallResult> {
  const modulesDir = path.resolve(options.modulesDir);
  if (options.trust.problem !== undefined) throw new ErpmodError('ERPMOD_PACK_REJECTED', `binary/signature: ${options.trust.problem}`);
  const pack = await readPack(packFile, options.packLimits);
  if (!isDirectory(modulesDir)) {
    throw new ErpmodError('ERPMOD_INSTALL_FAILED', `modules directory ${modulesDir} does not exist or is not a directory (create it, or pass --modules-dir)`);
  }
  const target = path.join(modulesDir, pack.code);
  const replaced = existingVersion(target, pack.code);

  let staging: string;
  try {
    staging = fs.mkdtempSync(path.join(modulesDir, '.erpmod-install-'));
  } catch (error) {
    throw new ErpmodError('ERPMOD_INSTALL_FAILED', `cannot create a staging directory in ${modulesDir}: ${messageOf(error)}`, { cause: error });
  }
  try {
    const unpacked = path.join(staging, pack.code);
    try {
      await extractPack(pack, unpacked);
    } catch (error) {
      throw new ErpmodError('ERPMOD_INSTALL_FAILED', `cannot unpack ${packFile} into ${staging}: ${messageOf(error)}`, { cause: error });
    }
    // Trust before code: once the host lists trusted keys, a pack they do not vouch for (unsigned, or
    // signed by another key) is refused here, before the compliance check's load phase runs any of it.
    const { trustedKeys, requireSignature } = options.trust;
    const mustBeSigned = requireSignature || trustedKeys.length > 0;
    const verified = verifyModuleDir(unpacked, { trustedKeys: trustedKeys.length > 0 ? trustedKeys : undefined, requireSignature: mustBeSigned });
    if (!verified.ok || verified.loaded === undefined) {
      const why = mustBeSigned && !requireSignature && verified.findings.some((f) => f.rule === 'binary/signature' && f.status === 'fail')
        ? 'the host lists trusted_keys, so erpmod install takes only packs signed by one of them; '
        : '';
      throw new ErpmodError('ERPMOD_PACK_REJECTED', `${packFile} is refused:\n${describeFailures(verified.findings)}\n(${why}none of the pack's code ran)`,
        { details: { findings: verified.findings } });
    }
    const { manifest } = verified.loaded;
    if (manifest.code !== pack.code) {
      throw new ErpmodError('ERPMOD_PACK_REJECTED', `manifest/schema: ${packFile} holds ${pack.code}/ but its module.yml declares code "${manifest.code}"`);
    }

    const check = await runCheck([unpacked], { staticOnly: options.staticOnly ?? false, timeoutMs: options.timeoutMs });
    if (!check.ok) {
      throw new ErpmodError('ERPMOD_PACK_REJECTED', `${packFile} fails the compliance check:\n${describeCheckFailures(check)}`, { details: { check } });
    }

    const bytes = readPackBytes(packFile);
    const packSha256 = sha256Of(bytes);
    try {
      keepPack(unpacked, bytes, { code: manifest.code, version: manifest.version, sha256: packSha256, signedBy: verified.signedBy ?? null });
    } catch (error) {
      throw new ErpmodError('ERPMOD_INSTALL_FAILED', `cannot keep the pack beside the unpacked module in ${staging}: ${messageOf(error)}`, { cause: error });
    }
    swapIntoPlace(unpacked, target, path.join(staging, 'previous'));
    return { code: manifest.code, version: manifest.version, moduleDir: target, replaced, findings: verified.findings, signedBy: verified.signedBy, check, packSha256 };
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}

/** `rule: message` for each failed rule of a check report, one per line. */
export function describeCheckFailures(report: CheckReport): string {
  const lines: string[] = [];
  for (const module of report.modules) {
    for (const t of module.targets) {
      for (const rule of t.rules) {
        for (const v of rule.violations) if (v.severity === 'error') lines.push(`${v.rule}: ${v.message}`);
      }
    }
  }
  return lines.join('\n');
}

function swapIntoPlace(unpacked: string, target: string, aside: string): void {
  const hadPrevious = fs.existsSync(target);
  if (hadPrevious) {
    try {
      fs.renameSync(target, aside);
    } catch (error) {
      throw new ErpmodError('ERPMOD_INSTALL_FAILED', `cannot move the installed ${target} aside: ${messageOf(error)}`, { cause: error });
    }
  }
  try {
    fs.renameSync(unpacked, target);
  } catch (error) {
    if (hadPrevious) fs.renameSync(aside, target);
    throw new ErpmodError('ERPMOD_INSTALL_FAILED', `cannot move the new module into ${target}: ${messageOf(error)}${hadPrevious ? ' (the installed module was put back)' : ''}`, { cause: error });
  }
}

/** The installed version at `target`, undefined when nothing is there; refuses a directory that is not this module. */
function existingVersion(target: string, code: string): string | undefined {
  if (!fs.existsSync(target)) return undefined;
  if (!isDirectory(target)) throw new ErpmodError('ERPMOD_INSTALL_FAILED', `${target} exists and is not a directory; refusing to replace it`);
  const manifest = path.join(target, 'module.yml');
  const text = fs.existsSync(manifest) ? fs.readFileSync(manifest, 'utf8') : '';
  const declared = /^code:\s*["']?([a-z0-9-]+)["']?\s*(#.*)?$/m.exec(text)?.[1];
  if (declared !== code) {
    throw new ErpmodError('ERPMOD_INSTALL_FAILED',
      `${target} exists but is not module "${code}" (${declared === undefined ? 'no module.yml with a code' : `its module.yml declares "${declared}"`}); refusing to replace it`);
  }
  return /^version:\s*["']?([^"'\s#]+)["']?/m.exec(text)?.[1] ?? 'unknown';
}

function readPackBytes(packFile: string): Buffer {
  try {
    return fs.readFileSync(packFile);
  } catch (error) {
    throw new ErpmodError('ERPMOD_INSTALL_FAILED', `cannot read ${packFile} again to keep it: ${messageOf(error)}`, { cause: error });
  }
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}
