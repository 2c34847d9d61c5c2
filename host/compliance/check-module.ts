/**
 * The static phase from a module directory: reads module.yml and checks the platform's binary, turning
 * a manifest that cannot be read or validated into `manifest/schema` violations instead of a throw, so
 * a CLI can report every module of a run in one format.
 */

import path from 'node:path';
import { isErpmodError } from '../errors';
import { checkStatic } from './check-static';
import type { CheckStaticOptions } from './check-static';
import { MANIFEST_FILE, displayPath, formatIssue, readManifest } from './manifest/read-manifest';
import type { ManifestIssue } from './manifest/manifest-schema';
import { RULES } from './rules';
import type { CheckTarget, StaticReport, Violation } from './types';

/** @throws only for errors that are not about the module (a bug, not a finding). */
export function checkModule(moduleDir: string, target: CheckTarget, options: CheckStaticOptions = {}): StaticReport {
  let loaded;
  try {
    loaded = readManifest(moduleDir);
  } catch (error) {
    if (!isErpmodError(error) || (error.code !== 'ERPMOD_MANIFEST_INVALID' && error.code !== 'ERPMOD_MANIFEST_UNREADABLE')) throw error;
    const file = path.resolve(moduleDir, MANIFEST_FILE);
    const issues = (error.details?.issues as ManifestIssue[] | undefined) ?? [{ path: '', message: error.message }];
    const violations: Violation[] = issues.map((issue) => ({
      rule: 'manifest/schema',
      severity: 'error',
      message: formatIssue(displayPath(file), issue),
      expected: 'a module.yml that matches the schema (docs/rules.md#manifestschema)',
      found: issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`,
      fix: RULES['manifest/schema'].fix,
      file,
    }));
    return {
      code: undefined, moduleDir: path.resolve(moduleDir), target, binaryPath: undefined, binarySha256: undefined,
      binary: undefined, passed: [], violations, ok: false,
    };
  }
  return checkStatic(loaded, target, options);
}
