/**
 * Reads `<moduleDir>/module.yml`: bounded size, safe YAML options, then the schema. The file is written
 * by a vendor and may be hostile, so parsing has limits before it has features.
 */

import fs from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { ErpmodError } from '../../errors';
import type { LoadedManifest } from '../types';
import { validateManifest } from './manifest-schema';
import type { ManifestIssue } from './manifest-schema';

export const MANIFEST_FILE = 'module.yml';
/** A real manifest is a few KiB; a larger file is a mistake or an attack on the parser. */
export const MANIFEST_MAX_BYTES = 256 * 1024;
/** Aliases are rare in a manifest; a few hundred expansions is already a billion-laughs attempt. */
export const MANIFEST_MAX_ALIASES = 100;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses and validates a module's manifest.
 *
 * @throws ErpmodError ERPMOD_MANIFEST_UNREADABLE (missing, too large, not UTF-8, not YAML) or
 *   ERPMOD_MANIFEST_INVALID (schema); `details.issues` lists every `{ path, message }`.
 * @example
 *   const { manifest } = readManifest('modules/sales');
 */
export function readManifest(moduleDir: string): LoadedManifest {
  const dir = path.resolve(moduleDir);
  const manifestPath = path.join(dir, MANIFEST_FILE);
  const label = displayPath(manifestPath);
  const text = readText(manifestPath, label);

  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true, strict: true, version: '1.2' });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e) => ({ path: '', message: firstLine(e.message) }));
    throw unreadable(label, issues, manifestPath, doc.errors[0]);
  }
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: MANIFEST_MAX_ALIASES });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw unreadable(label, [{ path: '', message }], manifestPath, error);
  }

  const { manifest, issues } = validateManifest(raw, dir);
  if (!manifest) {
    const lines = issues.map((i) => formatIssue(label, i));
    throw new ErpmodError('ERPMOD_MANIFEST_INVALID',
      issues.length === 1 ? lines[0]! : `${label}: ${issues.length} problems:\n  ${lines.join('\n  ')}`,
      { details: { file: manifestPath, issues } });
  }
  return { manifest, moduleDir: dir, manifestPath };
}

/** `modules/sales/module.yml: routes[2].method: expected one of ...`. */
export function formatIssue(label: string, issue: ManifestIssue): string {
  return issue.path === '' ? `${label}: ${issue.message}` : `${label}: ${issue.path}: ${issue.message}`;
}

function readText(manifestPath: string, label: string): string {
  let size: number;
  try {
    const stat = fs.statSync(manifestPath);
    if (!stat.isFile()) throw new Error('not a regular file');
    size = stat.size;
  } catch (error) {
    throw unreadable(label, [{ path: '', message: `cannot read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` }], manifestPath, error);
  }
  if (size > MANIFEST_MAX_BYTES) {
    throw unreadable(label, [{ path: '', message: `file is ${size} bytes; the limit is ${MANIFEST_MAX_BYTES}` }], manifestPath);
  }
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(manifestPath);
  } catch (error) {
    throw unreadable(label, [{ path: '', message: `cannot read: ${(error as Error).message}` }], manifestPath, error);
  }
  // The file may have grown between stat and read.
  if (bytes.length > MANIFEST_MAX_BYTES) {
    throw unreadable(label, [{ path: '', message: `file is over the ${MANIFEST_MAX_BYTES}-byte limit` }], manifestPath);
  }
  try {
    return utf8.decode(bytes);
  } catch (error) {
    throw unreadable(label, [{ path: '', message: 'not valid UTF-8' }], manifestPath, error);
  }
}

function unreadable(label: string, issues: ManifestIssue[], file: string, cause?: unknown): ErpmodError {
  const message = issues.map((i) => formatIssue(label, i)).join('\n');
  return new ErpmodError('ERPMOD_MANIFEST_UNREADABLE', message, { cause, details: { file, issues } });
}

/** Relative to the working directory when inside it (as operators type paths), else absolute. */
export function displayPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : p;
}

/** yaml's pretty errors append a source excerpt; the first line carries the position and the reason. */
function firstLine(message: string): string {
  return (message.split('\n')[0] ?? message).replace(/:\s*$/, '');
}
