/**
 * Ed25519 keys for signing module packs, with Node's crypto only. A public key travels as the base64
 * of its 32 raw bytes (one line: fits a config list and an environment variable); a PEM "PUBLIC KEY"
 * (SPKI) is accepted too. A private key is a PKCS#8 PEM file, written with mode 0600.
 */

import crypto, { type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import { ErpmodError } from '../errors';

const RAW_KEY_BYTES = 32;

/** A public key as erpmod prints and stores it: base64 of the raw 32 bytes. */
export function publicKeyText(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' }) as { x?: string };
  if (jwk.x === undefined) throw new Error('not an Ed25519 key');
  return Buffer.from(jwk.x, 'base64url').toString('base64');
}

/** A short, stable name for a public key in messages: the first 16 hex digits of SHA-256 over its raw bytes. */
export function keyId(key: KeyObject): string {
  const raw = Buffer.from(publicKeyText(key), 'base64');
  return crypto.createHash('sha256').update(raw).digest('hex').slice(0, 16);
}

/**
 * Reads a public key from its text: base64 of the 32 raw bytes, or a PEM SPKI block.
 * @throws ErpmodError ERPMOD_KEY_INVALID naming `where`.
 */
export function parsePublicKey(text: string, where: string): KeyObject {
  const trimmed = text.trim();
  let key: KeyObject;
  try {
    if (trimmed.startsWith('-----BEGIN')) {
      key = crypto.createPublicKey({ key: trimmed, format: 'pem' });
    } else {
      if (!/^[A-Za-z0-9+/]{43}=$/.test(trimmed)) throw new Error(`expected 44 characters of base64 (32 bytes), got ${JSON.stringify(trimmed.length > 60 ? `${trimmed.slice(0, 57)}...` : trimmed)}`);
      const raw = Buffer.from(trimmed, 'base64');
      if (raw.length !== RAW_KEY_BYTES) throw new Error(`expected ${RAW_KEY_BYTES} bytes, got ${raw.length}`);
      key = crypto.createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
    }
  } catch (error) {
    throw new ErpmodError('ERPMOD_KEY_INVALID', `${where}: expected an Ed25519 public key (base64 of 32 bytes, as erpmod keygen writes, or PEM), got an unreadable value: ${(error as Error).message}`, { cause: error });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new ErpmodError('ERPMOD_KEY_INVALID', `${where}: expected an Ed25519 public key, got a ${key.asymmetricKeyType ?? 'unknown'} key`);
  }
  return key;
}

/** @throws ErpmodError ERPMOD_KEY_INVALID when the file cannot be read or holds no Ed25519 public key. */
export function readPublicKeyFile(file: string): KeyObject {
  return parsePublicKey(readKeyText(file, 'public'), file);
}

/** @throws ErpmodError ERPMOD_KEY_INVALID when the file cannot be read or holds no Ed25519 private key. */
export function readPrivateKeyFile(file: string): KeyObject {
  const text = readKeyText(file, 'private');
  let key: KeyObject;
  try {
    key = crypto.createPrivateKey({ key: text, format: 'pem' });
  } catch (error) {
    throw new ErpmodError('ERPMOD_KEY_INVALID', `${file}: expected an Ed25519 private key in PEM (as erpmod keygen writes), got: ${(error as Error).message}`, { cause: error });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new ErpmodError('ERPMOD_KEY_INVALID', `${file}: expected an Ed25519 private key, got a ${key.asymmetricKeyType ?? 'unknown'} key`);
  }
  return key;
}

export interface GeneratedKeyPair {
  readonly privateKeyFile: string;
  readonly publicKeyFile: string;
  readonly publicKey: string;
  readonly keyId: string;
}

/**
 * Writes `<prefix>.key` (PKCS#8 PEM, mode 0600) and `<prefix>.pub` (base64 raw public key, one line).
 * Never overwrites: an existing file is refused before anything is written.
 * @throws ErpmodError ERPMOD_TARGET_EXISTS
 */
export function generateKeyPair(prefix: string): GeneratedKeyPair {
  const privateKeyFile = `${prefix}.key`;
  const publicKeyFile = `${prefix}.pub`;
  for (const file of [privateKeyFile, publicKeyFile]) {
    if (fs.existsSync(file)) throw new ErpmodError('ERPMOD_TARGET_EXISTS', `${file} already exists; erpmod keygen never overwrites a key (choose another --out prefix)`);
  }
  const { privateKey, publicKey } = crypto.generateKeyPairSync('ed25519');
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const text = publicKeyText(publicKey);
  // 'wx' refuses a file created meanwhile; mode applies at creation, before any byte is written.
  fs.writeFileSync(privateKeyFile, pem, { mode: 0o600, flag: 'wx' });
  fs.writeFileSync(publicKeyFile, `${text}\n`, { mode: 0o644, flag: 'wx' });
  return { privateKeyFile, publicKeyFile, publicKey: text, keyId: keyId(publicKey) };
}

function readKeyText(file: string, kind: 'public' | 'private'): string {
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) throw new Error('not a regular file');
    if (stat.size > 64 * 1024) throw new Error(`${stat.size} bytes is too large for a key file`);
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new ErpmodError('ERPMOD_KEY_INVALID', `${file}: expected a readable ${kind} key file, got ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, { cause: error });
  }
}
