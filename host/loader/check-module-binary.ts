import fs from 'node:fs';
import path from 'node:path';
import { checkStatic, checkStaticFile, defaultCheckTarget } from '../compliance/check-static';
import type { LoadedManifest, StaticReport } from '../compliance/types';
import type { PluginBinary } from '../registry/plugin-repository';
import { checkSignatureRule, withSignatureRule, type TrustPolicy } from '../packaging/trust-policy';
import { writeShadowCopy } from './shadow-copy';

export type CheckedBinary =
  | { readonly ok: true; readonly shadowPath: string; readonly sha256: string; readonly binary: PluginBinary; readonly report: StaticReport }
  | { readonly ok: false; readonly reason: string; readonly binary: PluginBinary; readonly report: StaticReport };

/**
 * Copies the platform's binary to its shadow path, then runs the static compliance phase on the copy:
 * the bytes that were checked are exactly the bytes that get dlopened, whatever an operator does to the
 * file in modules/ meanwhile. Nothing here executes vendor code. With a trust policy (trusted_keys,
 * require_signature) the module's signature (module.yml.sig) is judged as rule binary/signature.
 */
export function checkModuleBinary(loaded: LoadedManifest, dataDir: string, trust: TrustPolicy): CheckedBinary {
  const target = defaultCheckTarget();
  const key = `${target.platform}-${target.arch}`;
  const declared = loaded.manifest.binaries[key];
  const source = declared === undefined ? undefined : path.resolve(loaded.moduleDir, declared);

  if (source === undefined || !fs.existsSync(source)) {
    const report = checkStatic(loaded, target);
    return { ok: false, reason: describeViolations(report), binary: binaryOf(loaded, source, undefined, report), report };
  }
  const shadow = writeShadowCopy(dataDir, loaded.manifest.code, source);
  const signature = checkSignatureRule(loaded.moduleDir, loaded.manifest, key, trust);
  const report = withSignatureRule(checkStaticFile(loaded, shadow.path, target), signature);
  const binary = binaryOf(loaded, source, shadow.sha256, report);
  if (!report.ok) return { ok: false, reason: describeViolations(report), binary, report };
  return { ok: true, shadowPath: shadow.path, sha256: shadow.sha256, binary, report };
}

function binaryOf(loaded: LoadedManifest, source: string | undefined, sha256: string | undefined, report: StaticReport): PluginBinary {
  const napi = report.binary?.infoBlock?.fields.napi;
  const abi = report.binary?.infoBlock?.fields.erpmod_abi;
  return {
    binaryPath: source,
    binarySha256: sha256,
    napiVersion: napi === undefined ? loaded.manifest.abi.napi : Number(napi),
    erpmodAbi: abi === undefined ? loaded.manifest.abi.erpmod : Number(abi),
  };
}

/** `rule: message; rule: message` — what the registry's last_error and the log show. */
export function describeViolations(report: StaticReport): string {
  return report.violations
    .filter((violation) => violation.severity === 'error')
    .map((violation) => `${violation.rule}: ${violation.message}`)
    .join('; ');
}
