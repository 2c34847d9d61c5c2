/**
 * What `erpmod verify` and `erpmod install` prove about an unpacked module before anything else looks
 * at it: the manifest is valid, every binary in the pack is pinned in `sha256:` and matches its pin,
 * every pin has its binary, and the signature over module.yml is intact (and by a trusted key when
 * trusted keys are given). Findings carry the compliance rule IDs (docs/rules.md).
 */

import crypto, { type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { readManifest } from '../compliance/manifest/read-manifest';
import type { LoadedManifest, RuleId } from '../compliance/types';
import { isErpmodError, messageOf } from '../errors';
import { describeVerdict, judgeSignature, SIGNATURE_FILE } from './module-signature';

export interface Finding {
  readonly rule: RuleId;
  /** `note` is information: neither a pass nor a problem. */
  readonly status: 'pass' | 'fail' | 'warn' | 'note';
  readonly message: string;
}

export interface VerifyOptions {
  /** Keys a signature must verify under; undefined checks only that the signature is intact. */
  readonly trustedKeys?: readonly KeyObject[];
  /** An unsigned module, or one signed by a key not in trustedKeys, fails instead of warning. */
  readonly requireSignature: boolean;
}

export interface VerifyResult {
  readonly loaded: LoadedManifest | undefined;
  readonly findings: readonly Finding[];
  readonly ok: boolean;
  /** Key id of a valid signature. */
  readonly signedBy: string | undefined;
}

export function verifyModuleDir(dir: string, options: VerifyOptions): VerifyResult {
  const findings: Finding[] = [];
  const done = (loaded: LoadedManifest | undefined, signedBy?: string): VerifyResult => ({
    loaded, findings, signedBy, ok: !findings.some((f) => f.status === 'fail'),
  });
  let loaded: LoadedManifest;
  try {
    loaded = readManifest(dir);
  } catch (error) {
    if (!isErpmodError(error)) throw error;
    findings.push({ rule: 'manifest/schema', status: 'fail', message: messageOf(error) });
    return done(undefined);
  }
  const { manifest } = loaded;
  findings.push({ rule: 'manifest/schema', status: 'pass', message: `module.yml: ${manifest.code} ${manifest.version}` });

  let binaries = 0;
  for (const [key, relative] of Object.entries(manifest.binaries)) {
    const file = path.join(dir, ...relative.split('/'));
    const pinned = manifest.sha256[key]?.toLowerCase();
    if (!fs.existsSync(file)) {
      if (pinned !== undefined) findings.push({ rule: 'binary/present', status: 'fail', message: `${relative}: sha256.${key} is pinned but the file is not in the pack` });
      continue;
    }
    binaries += 1;
    const actual = crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
    if (pinned === undefined) {
      findings.push({ rule: 'binary/sha256', status: 'fail', message: `${relative}: no sha256.${key} pins it, so nothing proves it is the file that was packed (pack with erpmod pack)` });
    } else if (pinned !== actual) {
      findings.push({ rule: 'binary/sha256', status: 'fail', message: `${relative}: SHA-256 ${actual} does not match sha256.${key} ${pinned}: the binary was changed after packing` });
    } else {
      findings.push({ rule: 'binary/sha256', status: 'pass', message: `${relative}: ${actual}` });
    }
  }
  if (binaries === 0) findings.push({ rule: 'binary/present', status: 'fail', message: 'the pack holds none of the binaries module.yml declares' });

  const signaturePath = path.join(dir, SIGNATURE_FILE);
  const verdict = judgeSignature(
    fs.readFileSync(loaded.manifestPath),
    fs.existsSync(signaturePath) ? fs.readFileSync(signaturePath) : undefined,
    options.trustedKeys,
  );
  const message = describeVerdict(verdict);
  switch (verdict.state) {
    case 'unsigned':
      findings.push({ rule: 'binary/signature', status: options.requireSignature ? 'fail' : 'note', message });
      break;
    case 'malformed':
    case 'tampered':
      findings.push({ rule: 'binary/signature', status: 'fail', message });
      break;
    case 'untrusted':
      findings.push({ rule: 'binary/signature', status: options.requireSignature ? 'fail' : 'warn', message });
      break;
    case 'valid':
      findings.push({ rule: 'binary/signature', status: 'pass', message });
      return done(loaded, verdict.keyId);
  }
  return done(loaded);
}

/** `rule: message` of every failure, one per line. */
export function describeFailures(findings: readonly Finding[]): string {
  return findings.filter((f) => f.status === 'fail').map((f) => `${f.rule}: ${f.message}`).join('\n');
}
