/**
 * `erpmod pack`: a module directory into `<code>-<version>.tgz` holding module.yml (with `sha256:`
 * rewritten to pin every packed binary), module.yml.sig when a key is given, every declared binary
 * that exists, the migrations and README.md. Sources and build directories stay out. The manifest is
 * edited as a YAML document, so the vendor's comments and key order survive.
 */

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { MIGRATION_ENGINES } from '../compliance/manifest/list-migration-files';
import YAML, { Scalar } from 'yaml';
import { validateManifest } from '../compliance/manifest/manifest-schema';
import { readManifest } from '../compliance/manifest/read-manifest';
import { resolveInside } from '../compliance/manifest/resolve-inside';
import { ErpmodError } from '../errors';
import { temporaryPathBeside } from '../temporary-path';
import { SIGNATURE_FILE, signManifest } from './module-signature';
import { keyId, readPrivateKeyFile } from './signing-keys';
import { writeTarGz, type TarEntry } from './tar-archive';

export interface PackOptions {
  /** Ed25519 private key (PEM) to sign the packed manifest with. */
  readonly keyFile?: string;
  /** Where to write the pack; defaults to `<cwd>/<code>-<version>.tgz`. */
  readonly out?: string;
}

export interface PackedBinary {
  readonly platformKey: string;
  readonly path: string;
  readonly sha256: string;
  readonly bytes: number;
}

export interface PackResult {
  readonly file: string;
  readonly code: string;
  readonly version: string;
  readonly binaries: readonly PackedBinary[];
  /** Declared binaries that were not built, hence not packed. */
  readonly missing: readonly { readonly platformKey: string; readonly path: string }[];
  readonly files: readonly string[];
  readonly signedBy: string | undefined;
}

/**
 * @throws ErpmodError ERPMOD_MANIFEST_* for a bad module.yml, ERPMOD_KEY_INVALID for a bad key,
 *   ERPMOD_PACK_FAILED when no declared binary exists or the pack cannot be written.
 */
export function packModule(moduleDir: string, options: PackOptions = {}): PackResult {
  const privateKey = options.keyFile === undefined ? undefined : readPrivateKeyFile(options.keyFile);
  const loaded = readManifest(moduleDir);
  const { manifest } = loaded;
  const dir = loaded.moduleDir;

  const binaries: (PackedBinary & { data: Buffer })[] = [];
  const missing: { platformKey: string; path: string }[] = [];
  for (const [platformKey, relative] of Object.entries(manifest.binaries)) {
    const resolved = resolveInside(dir, relative);
    if (!resolved.ok) throw new ErpmodError('ERPMOD_PACK_FAILED', `binaries.${platformKey}: ${resolved.reason}`);
    if (!resolved.exists) {
      missing.push({ platformKey, path: relative });
      continue;
    }
    const data = fs.readFileSync(resolved.absolute);
    binaries.push({ platformKey, path: relative, data, bytes: data.length, sha256: crypto.createHash('sha256').update(data).digest('hex') });
  }
  if (binaries.length === 0) {
    throw new ErpmodError('ERPMOD_PACK_FAILED',
      `${loaded.manifestPath}: none of the declared binaries exists (${missing.map((m) => m.path).join(', ') || 'none declared'}); build the module first (erpmod build)`);
  }

  const manifestBytes = Buffer.from(pinDigests(fs.readFileSync(loaded.manifestPath, 'utf8'), binaries, dir), 'utf8');
  const code = manifest.code;
  const entries: TarEntry[] = [{ path: `${code}/module.yml`, data: manifestBytes }];
  if (privateKey !== undefined) entries.push({ path: `${code}/${SIGNATURE_FILE}`, data: Buffer.from(signManifest(manifestBytes, privateKey), 'utf8') });
  const readme = path.join(dir, 'README.md');
  if (fs.existsSync(readme) && fs.statSync(readme).isFile()) entries.push({ path: `${code}/README.md`, data: fs.readFileSync(readme) });
  for (const binary of binaries) entries.push({ path: `${code}/${binary.path}`, data: binary.data, mode: 0o755 });
  if (manifest.migrations !== undefined) {
    // The portable files and each engine's replacements (migrations/postgres/, migrations/sqlite/).
    for (const sub of ['', ...MIGRATION_ENGINES]) {
      const migrationsDir = path.join(dir, manifest.migrations, sub);
      if (!fs.existsSync(migrationsDir) || !fs.statSync(migrationsDir).isDirectory()) continue;
      const prefix = `${code}/${manifest.migrations.replace(/\/+$/, '')}${sub === '' ? '' : `/${sub}`}`;
      for (const entry of fs.readdirSync(migrationsDir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
        if (!entry.isFile() || entry.name.startsWith('.')) continue;
        entries.push({ path: `${prefix}/${entry.name}`, data: fs.readFileSync(path.join(migrationsDir, entry.name)) });
      }
    }
  }

  const file = path.resolve(options.out ?? `${code}-${manifest.version}.tgz`);
  const temporary = temporaryPathBeside(file);
  try {
    fs.writeFileSync(temporary, writeTarGz(entries));
    fs.renameSync(temporary, file);
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    throw new ErpmodError('ERPMOD_PACK_FAILED', `cannot write ${file}: ${(error as Error).message}`, { cause: error });
  }
  return {
    file,
    code,
    version: manifest.version,
    binaries: binaries.map(({ data: _data, ...rest }) => rest),
    missing,
    files: entries.map((e) => e.path),
    signedBy: privateKey === undefined ? undefined : keyId(crypto.createPublicKey(privateKey)),
  };
}

/** module.yml's text with `sha256:` holding exactly the packed binaries' digests, re-validated. */
function pinDigests(text: string, binaries: readonly PackedBinary[], moduleDir: string): string {
  const doc = YAML.parseDocument(text, { version: '1.2' });
  const pins = doc.createNode(Object.fromEntries(binaries.map((b) => [b.platformKey, b.sha256])));
  // Quoted, so a digest made only of digits still reads back as a string.
  YAML.visit(pins, { Scalar(key, node: Scalar) { if (key === 'value') node.type = 'QUOTE_DOUBLE'; } });
  doc.set('sha256', pins);
  const result = doc.toString();
  const { issues } = validateManifest(YAML.parse(result), moduleDir);
  if (issues.length > 0) throw new ErpmodError('ERPMOD_PACK_FAILED', `the packed module.yml would not be valid: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
  return result;
}
