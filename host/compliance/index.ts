/**
 * The compliance part's public surface: the manifest reader, the binary readers and the static rules.
 * The host's loader, the CLI and the checker's child process import from here; nothing here imports
 * from them.
 */

export type * from './types';
export { HTTP_METHODS } from './types';

export { readManifest, formatIssue, MANIFEST_FILE, MANIFEST_MAX_BYTES } from './manifest/read-manifest';
export { validateManifest } from './manifest/manifest-schema';
export type { ManifestIssue } from './manifest/manifest-schema';
export { migrationFiles } from './manifest/list-migration-files';
export type { MigrationFile } from './manifest/list-migration-files';

export { readBinary, sniffFormat } from './binary/read-binary';
export type { ReadBinaryOptions, ReadBinaryResult } from './binary/read-binary';
export { readInfoBlock } from './binary/read-info-block';

export { checkStatic, checkStaticFile, checkStaticBytes } from './check-static';
export { checkModule } from './check-module';
export type { CheckStaticOptions } from './check-static';
export { defaultCheckTarget, platformKeyOf, SUPPORTED_ERPMOD_ABIS } from './default-check-target';
export { RULES, RULE_IDS, ruleOf } from './rules';
export type { RuleDefinition } from './rules';
export { demangleName } from './demangle-name';

export { runCheck, listModuleDirs } from './run-check';
export type { RunCheckOptions } from './run-check';
export { runLoadCheck, killRunningLoadChecks, DEFAULT_LOAD_TIMEOUT_MS } from './load/run-load-check';
export type { LoadCheckOptions, LoadReport } from './load/run-load-check';
export type { CheckReport, ModuleResult, RuleResult } from './report/check-report';
