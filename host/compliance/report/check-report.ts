/**
 * The result of `erpmod check`, shaped to be serialised as is: `--format json` prints this object, and
 * docs/schemas/check-report.schema.json describes it. Bump CHECK_REPORT_SCHEMA_VERSION on any change a
 * consumer could notice other than a new optional field.
 */

import type { Arch, BinaryFormat, RuleId, Severity } from '../types';

export const CHECK_REPORT_SCHEMA_VERSION = 1;

export type RuleStatus = 'pass' | 'fail' | 'warn' | 'skip';
export type RulePhase = 'manifest' | 'static' | 'load';

export interface ReportedViolation {
  readonly rule: RuleId;
  readonly severity: Severity;
  readonly message: string;
  readonly expected: string | null;
  readonly found: string | null;
  readonly fix: string | null;
  /** Absolute path of the file the violation is about. */
  readonly file: string | null;
}

export interface RuleResult {
  readonly id: RuleId;
  readonly phase: RulePhase;
  readonly title: string;
  readonly status: RuleStatus;
  /** Why a skipped rule did not run. */
  readonly skipReason: string | null;
  readonly violations: readonly ReportedViolation[];
}

export interface BinarySummary {
  readonly format: BinaryFormat;
  readonly bits: 32 | 64;
  readonly endian: 'little' | 'big';
  readonly arch: Arch;
  readonly machine: number;
  readonly sharedLibrary: boolean;
  readonly napiFromCode: number | null;
  readonly napiFromInfoBlock: number | null;
}

export interface LoadPhaseSummary {
  readonly ran: boolean;
  readonly skipReason: string | null;
  readonly durationMs: number | null;
  /** completed | crashed | timed-out | exited, when it ran. */
  readonly outcome: string | null;
  readonly signal: string | null;
  readonly exitCode: number | null;
  /** How the child that loaded the library was confined; null when the load phase did not run. */
  readonly sandbox: SandboxSummary | null;
}

/** The load phase's sandbox: the mechanism, what it kept the library from, and why it is weaker than full. */
export interface SandboxSummary {
  /** bwrap | unshare | setpriv | none */
  readonly mechanism: string;
  readonly full: boolean;
  readonly noWrites: boolean;
  readonly noNetwork: boolean;
  readonly notRoot: boolean;
  readonly note: string | null;
}

/** One `<platform>-<arch>` binary of a module: its static result and, on this machine's platform, its load result. */
export interface TargetResult {
  readonly platformKey: string;
  readonly binaryPath: string | null;
  readonly binarySha256: string | null;
  readonly binary: BinarySummary | null;
  readonly staticMs: number;
  readonly load: LoadPhaseSummary;
  /** Every rule of the catalogue, in catalogue order. */
  readonly rules: readonly RuleResult[];
  readonly errors: number;
  readonly warnings: number;
  readonly ok: boolean;
}

export interface ModuleResult {
  /** Absolute path of the module directory. */
  readonly dir: string;
  readonly manifestPath: string;
  readonly code: string | null;
  readonly version: string | null;
  readonly targets: readonly TargetResult[];
  readonly errors: number;
  readonly warnings: number;
  /** No error, and no warning under --strict. */
  readonly ok: boolean;
}

export interface CheckReport {
  readonly schemaVersion: typeof CHECK_REPORT_SCHEMA_VERSION;
  readonly tool: { readonly name: 'erpmod'; readonly version: string };
  readonly host: {
    readonly platform: string;
    readonly arch: string;
    readonly node: string;
    readonly napi: number;
    readonly erpmodAbis: readonly number[];
  };
  readonly options: {
    readonly staticOnly: boolean;
    readonly allPlatforms: boolean;
    readonly strict: boolean;
    readonly timeoutMs: number;
  };
  readonly modules: readonly ModuleResult[];
  readonly summary: {
    readonly modules: number;
    readonly passed: number;
    readonly failed: number;
    readonly errors: number;
    readonly warnings: number;
    readonly durationMs: number;
  };
  readonly ok: boolean;
}
