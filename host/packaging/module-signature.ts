/**
 * The signature of a module: Ed25519 over the exact bytes of its packed module.yml, kept in
 * `module.yml.sig` beside it. The manifest pins each packed binary's SHA-256 (`sha256:`), so one
 * signature covers the manifest and, through the digests, every binary in the pack.
 *
 * The signed message is a fixed context string followed by the manifest bytes, so a vendor key that
 * also signs other things cannot have those signatures replayed as module signatures.
 *
 * `module.yml.sig` is text of `key=value` lines:
 *
 *   erpmod_signature=1
 *   algorithm=ed25519
 *   key_id=3f2a9c0d1e4b5a67
 *   public_key=<base64 of the signer's 32-byte public key>
 *   signature=<base64 of the 64-byte signature>
 *
 * The public key in the file says who signed; trust comes only from the verifier's own list.
 */

import crypto, { type KeyObject } from 'node:crypto';
import { keyId, parsePublicKey, publicKeyText } from './signing-keys';

export const SIGNATURE_FILE = 'module.yml.sig';
const SIGNED_CONTEXT = Buffer.from('erpmod module.yml signature v1\u0000', 'utf8');
const MAX_SIGNATURE_FILE_BYTES = 4096;

export type SignatureVerdict =
  | { readonly state: 'unsigned' }
  | { readonly state: 'malformed'; readonly reason: string }
  /** The signature does not verify under the key it names: module.yml changed after signing. */
  | { readonly state: 'tampered'; readonly keyId: string }
  /** Valid under the key it names, but that key is not among the trusted ones. */
  | { readonly state: 'untrusted'; readonly keyId: string }
  /** `trusted` is false when no trusted keys were given (integrity only). */
  | { readonly state: 'valid'; readonly keyId: string; readonly trusted: boolean };

/** The text of `module.yml.sig` for these manifest bytes. */
export function signManifest(manifestBytes: Buffer, privateKey: KeyObject): string {
  const publicKey = crypto.createPublicKey(privateKey);
  const signature = crypto.sign(null, Buffer.concat([SIGNED_CONTEXT, manifestBytes]), privateKey);
  return [
    'erpmod_signature=1',
    'algorithm=ed25519',
    `key_id=${keyId(publicKey)}`,
    `public_key=${publicKeyText(publicKey)}`,
    `signature=${signature.toString('base64')}`,
    '',
  ].join('\n');
}

/**
 * Judges a manifest's signature. `trustedKeys` undefined checks integrity only (does the signature
 * verify under the key it names); a list also requires that key to be in it.
 */
export function judgeSignature(manifestBytes: Buffer, signatureFile: Buffer | undefined, trustedKeys?: readonly KeyObject[]): SignatureVerdict {
  if (signatureFile === undefined) return { state: 'unsigned' };
  let parsed: { publicKey: KeyObject; keyId: string; signature: Buffer };
  try {
    parsed = parseSignatureFile(signatureFile);
  } catch (error) {
    return { state: 'malformed', reason: (error as Error).message };
  }
  const message = Buffer.concat([SIGNED_CONTEXT, manifestBytes]);
  if (!crypto.verify(null, message, parsed.publicKey, parsed.signature)) return { state: 'tampered', keyId: parsed.keyId };
  if (trustedKeys === undefined) return { state: 'valid', keyId: parsed.keyId, trusted: false };
  // The named key proved the signature; trust means some trusted key verifies it too.
  const trusted = trustedKeys.some((key) => crypto.verify(null, message, key, parsed.signature));
  return trusted ? { state: 'valid', keyId: parsed.keyId, trusted: true } : { state: 'untrusted', keyId: parsed.keyId };
}

/** One sentence for a verdict, as reports and errors show it. */
export function describeVerdict(verdict: SignatureVerdict): string {
  switch (verdict.state) {
    case 'unsigned':
      return `the module is not signed (no ${SIGNATURE_FILE} beside module.yml)`;
    case 'malformed':
      return `${SIGNATURE_FILE} cannot be read: ${verdict.reason}`;
    case 'tampered':
      return `the signature by key ${verdict.keyId} does not match module.yml: the manifest was changed after it was signed`;
    case 'untrusted':
      return `module.yml is signed by key ${verdict.keyId}, which is not among the trusted keys`;
    case 'valid':
      return verdict.trusted ? `signed by trusted key ${verdict.keyId}` : `signature by key ${verdict.keyId} is intact (not checked against a trusted key)`;
  }
}

function parseSignatureFile(bytes: Buffer): { publicKey: KeyObject; keyId: string; signature: Buffer } {
  if (bytes.length > MAX_SIGNATURE_FILE_BYTES) throw new Error(`${bytes.length} bytes is over the ${MAX_SIGNATURE_FILE_BYTES}-byte limit`);
  const fields = new Map<string, string>();
  for (const line of bytes.toString('utf8').split('\n')) {
    const text = line.replace(/\r$/, '');
    if (text === '') continue;
    const eq = text.indexOf('=');
    if (eq <= 0) throw new Error(`malformed line ${JSON.stringify(text.slice(0, 60))}`);
    const key = text.slice(0, eq);
    if (fields.has(key)) throw new Error(`duplicate field ${key}`);
    fields.set(key, text.slice(eq + 1));
  }
  if (fields.get('erpmod_signature') !== '1') throw new Error(`expected erpmod_signature=1, got ${JSON.stringify(fields.get('erpmod_signature') ?? null)}`);
  if (fields.get('algorithm') !== 'ed25519') throw new Error(`expected algorithm=ed25519, got ${JSON.stringify(fields.get('algorithm') ?? null)}`);
  const publicKey = parsePublicKey(fields.get('public_key') ?? '', 'public_key');
  const signatureText = fields.get('signature') ?? '';
  const signature = Buffer.from(signatureText, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signatureText) || signature.length !== 64) throw new Error('expected signature= the base64 of 64 bytes');
  return { publicKey, keyId: keyId(publicKey), signature };
}
