import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/**
 * The pack an installed module came from, kept inside its directory (`.erpmod-pack.tgz` and
 * `.erpmod-pack.json`, written before the directory is swapped into place, so the module and its pack
 * arrive together): what a fleet shares with its other instances when the module is reloaded, and how
 * an instance knows it already holds the fleet's bytes.
 */
const PACK_FILE = '.erpmod-pack.tgz';
const RECORD_FILE = '.erpmod-pack.json';

export interface KeptPack {
  readonly code: string;
  readonly version: string;
  readonly sha256: string;
  readonly signedBy: string | null;
}

export function sha256Of(bytes: Buffer): string {
  return crypto.createHash('sha256').update(bytes).digest('hex');
}

/** The kept pack's description, or undefined when the module was not installed from a pack (or the record is unreadable). */
export function keptPack(moduleDir: string): KeptPack | undefined {
  try {
    const kept = JSON.parse(fs.readFileSync(path.join(moduleDir, RECORD_FILE), 'utf8')) as KeptPack;
    return typeof kept.code === 'string' && typeof kept.sha256 === 'string' ? kept : undefined;
  } catch {
    return undefined;
  }
}

export function keptPackBytes(moduleDir: string): Buffer {
  return fs.readFileSync(path.join(moduleDir, PACK_FILE));
}

/** Writes the pack and its description into a module directory not yet in place. */
export function keepPack(moduleDir: string, bytes: Buffer, kept: KeptPack): void {
  fs.writeFileSync(path.join(moduleDir, PACK_FILE), bytes);
  fs.writeFileSync(path.join(moduleDir, RECORD_FILE), `${JSON.stringify(kept)}\n`);
}
