/** The shapes the console's JSON endpoints answer with (host/console/describe-modules.ts). */

export interface Signature {
  readonly state: string;
  readonly keyId: string | null;
  readonly summary: string;
}

export interface ModuleView {
  readonly code: string;
  readonly name: string;
  readonly version: string;
  readonly status: string;
  readonly enabled: boolean;
  readonly lastError: string | null;
  readonly isolation: string | null;
  readonly execution: string | null;
  readonly health: 'serving' | 'disabled' | 'not-serving';
  readonly binarySha256: string | null;
  readonly signature: Signature;
  readonly loadedAt: string | null;
  readonly loadMs: number | null;
  readonly generation: number | null;
  readonly routes: readonly { readonly method: string; readonly path: string }[];
  readonly dependencies: readonly string[];
  readonly dependents: readonly string[];
}

export interface AuditEvent {
  readonly id: number;
  readonly code?: string;
  readonly kind: string;
  readonly detail: unknown;
  readonly at: string;
}

export interface ModuleDetail extends ModuleView {
  readonly description: string | null;
  readonly vendor: string | null;
  readonly moduleDir: string;
  readonly config: unknown;
  readonly metrics: MetricsSnapshot | null;
  readonly events: readonly AuditEvent[];
  readonly crashes: readonly AuditEvent[];
}

export interface MetricsSnapshot {
  readonly requests: number;
  readonly errors: number;
  readonly clientErrors: number;
  readonly inFlight: number;
  readonly latencyMs: { readonly avg: number; readonly p50: number; readonly p99: number };
}

export interface Finding {
  readonly rule: string;
  readonly status: 'pass' | 'fail' | 'warn' | 'note';
  readonly message: string;
}

export interface PackPreview {
  readonly ok: boolean;
  readonly uploadId: string | null;
  readonly code: string | null;
  readonly version: string | null;
  readonly replaces: string | null;
  readonly signedBy: string | null;
  readonly findings: readonly Finding[];
  readonly checkText: string | null;
  readonly error: { readonly code: string; readonly message: string } | null;
}
