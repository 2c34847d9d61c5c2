/**
 * The host's trust policy (`trusted_keys`, `require_signature`) and the `binary/signature` rule an
 * installed module is judged by. An installed module's signature is `module.yml.sig` beside its
 * module.yml (erpmod install keeps it there); it signs the manifest, whose `sha256:` pins the binary,
 * and `binary/sha256` proves the binary matches the pin.
 *
 * | situation                                       | require_signature: true | keys listed, not required |
 * | ----------------------------------------------- | ----------------------- | ------------------------- |
 * | signed by a trusted key, binary pinned          | pass                    | pass                      |
 * | signature does not match module.yml (tampered)  | error                   | error                     |
 * | unreadable module.yml.sig                       | error                   | error                     |
 * | not signed                                      | error                   | not run                   |
 * | signed by a key not in trusted_keys             | error                   | warning                   |
 * | signed, but the platform's binary is not pinned | error                   | warning                   |
 *
 * With no trusted keys and no requirement the rule does not run. This table is the host's, at boot and
 * reload; `erpmod install` (install-pack.ts) treats listed keys as required, so an unsigned or
 * foreign-signed pack is refused there before any of its code runs.
 */

import type { KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { RULES } from '../compliance/rules';
import type { ModuleManifest, StaticReport, Violation } from '../compliance/types';
import { loadConfig } from '../config/load-config';
import { messageOf } from '../errors';
import { describeVerdict, judgeSignature, SIGNATURE_FILE } from './module-signature';
import { parsePublicKey } from './signing-keys';

export interface TrustPolicy {
  readonly trustedKeys: readonly KeyObject[];
  readonly requireSignature: boolean;
  /** Set when the policy could not be read: every module is then refused (fail closed). */
  readonly problem?: string;
}

export const NO_TRUST_POLICY: TrustPolicy = { trustedKeys: [], requireSignature: false };

/** The policy from a loaded host configuration (keys already validated there). */
export function trustPolicyOf(config: { readonly trustedKeys: readonly string[]; readonly requireSignature: boolean }): TrustPolicy {
  return {
    trustedKeys: config.trustedKeys.map((text, i) => parsePublicKey(text, `trusted_keys[${i}]`)),
    requireSignature: config.requireSignature,
  };
}

/**
 * The policy in the configuration `read` returns. A configuration that cannot be read refuses every
 * module rather than loading them unchecked.
 */
export function readTrustPolicy(read: () => { readonly trustedKeys: readonly string[]; readonly requireSignature: boolean }): TrustPolicy {
  try {
    return trustPolicyOf(read());
  } catch (error) {
    return { trustedKeys: [], requireSignature: true, problem: `the host's trust settings cannot be read: ${messageOf(error)}` };
  }
}

/**
 * The policy from the same sources as a host's configuration: `ERPMOD_CONFIG` or ./erpmod.config.yml,
 * then ERPMOD_TRUSTED_KEYS / ERPMOD_REQUIRE_SIGNATURE.
 */
export function hostTrustPolicy(env: NodeJS.ProcessEnv = process.env): TrustPolicy {
  return readTrustPolicy(() => loadConfig({ env }));
}

export type SignatureRuleResult =
  | { readonly ran: false; readonly reason: string }
  | { readonly ran: true; readonly violation: Violation | undefined; readonly summary: string };

/**
 * The `binary/signature` rule for a module directory, judged against `policy`. `manifest` is the
 * manifest the caller parsed: the signed bytes must pin the same digest for `platformKey`, so a
 * module.yml swapped between the caller's read and this one is caught too.
 */
export function checkSignatureRule(moduleDir: string, manifest: ModuleManifest, platformKey: string, policy: TrustPolicy): SignatureRuleResult {
  const manifestPath = path.join(moduleDir, 'module.yml');
  const fail = (message: string, severity: 'error' | 'warning', found: string): SignatureRuleResult => ({
    ran: true,
    summary: message,
    violation: {
      rule: 'binary/signature', severity, message, found, file: path.join(moduleDir, SIGNATURE_FILE),
      expected: 'module.yml signed (module.yml.sig) by a key in the host\'s trusted_keys, pinning the binary\'s sha256',
      fix: RULES['binary/signature'].fix,
    },
  });
  if (policy.problem !== undefined) return fail(policy.problem, 'error', 'unreadable trust settings');
  if (!policy.requireSignature && policy.trustedKeys.length === 0) return { ran: false, reason: 'the host does not require signatures' };

  let manifestBytes: Buffer;
  let signature: Buffer | undefined;
  try {
    manifestBytes = fs.readFileSync(manifestPath);
    signature = fs.existsSync(path.join(moduleDir, SIGNATURE_FILE)) ? fs.readFileSync(path.join(moduleDir, SIGNATURE_FILE)) : undefined;
  } catch (error) {
    return fail(`cannot read the module's manifest or signature: ${messageOf(error)}`, 'error', 'unreadable file');
  }
  const verdict = judgeSignature(manifestBytes, signature, policy.trustedKeys);
  const soft = policy.requireSignature ? 'error' : 'warning';
  switch (verdict.state) {
    case 'unsigned':
      return policy.requireSignature ? fail(describeVerdict(verdict), 'error', 'no signature') : { ran: false, reason: 'the module is not signed and the host does not require signatures' };
    case 'malformed':
    case 'tampered':
      return fail(describeVerdict(verdict), 'error', verdict.state);
    case 'untrusted':
      return fail(describeVerdict(verdict), soft, `key ${verdict.keyId}`);
    case 'valid':
      break;
  }
  const pinned = signedPin(manifestBytes, platformKey);
  if (pinned === undefined) {
    return fail(`the signed module.yml pins no sha256.${platformKey}, so the signature does not cover the binary (pack it with erpmod pack)`, soft, 'no pinned digest');
  }
  if (pinned.toLowerCase() !== (manifest.sha256[platformKey] ?? '').toLowerCase()) {
    return fail('module.yml changed while it was being checked: the signed digest is not the one read', 'error', 'changed manifest');
  }
  return { ran: true, violation: undefined, summary: describeVerdict(verdict) };
}

/** A static report with the signature rule's outcome added. */
export function withSignatureRule(report: StaticReport, result: SignatureRuleResult): StaticReport {
  if (!result.ran) return report;
  if (result.violation === undefined) return { ...report, passed: [...report.passed, 'binary/signature'] };
  const violations = [...report.violations, result.violation];
  return { ...report, violations, ok: report.ok && result.violation.severity !== 'error' };
}

function signedPin(manifestBytes: Buffer, platformKey: string): string | undefined {
  try {
    const doc = YAML.parse(manifestBytes.toString('utf8'), { maxAliasCount: 100 }) as { sha256?: Record<string, unknown> } | null;
    const value = doc?.sha256?.[platformKey];
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}
