import fs from 'node:fs';
import path from 'node:path';
import { describeVerdict, judgeSignature, SIGNATURE_FILE } from '../packaging/module-signature';
import type { TrustPolicy } from '../packaging/trust-policy';
import type { SignatureState } from './console-shapes';

/** The signature verdict for the module.yml in `moduleDir` now, under the host's current trust policy. */
export function signatureStateOf(moduleDir: string, trust: TrustPolicy): SignatureState {
  let manifest: Buffer;
  let signature: Buffer | undefined;
  try {
    manifest = fs.readFileSync(path.join(moduleDir, 'module.yml'));
    const file = path.join(moduleDir, SIGNATURE_FILE);
    signature = fs.existsSync(file) ? fs.readFileSync(file) : undefined;
  } catch (error) {
    return { state: 'unreadable', keyId: null, summary: `module.yml cannot be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}` };
  }
  const verdict = judgeSignature(manifest, signature, trust.trustedKeys.length > 0 ? trust.trustedKeys : undefined);
  return { state: verdict.state, keyId: 'keyId' in verdict ? verdict.keyId : null, summary: describeVerdict(verdict) };
}
