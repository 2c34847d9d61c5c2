/**
 * The JSON the console's endpoints answer with. Shared by the server (host/console) and the page
 * (host/console/web), so this file imports nothing: the page is compiled without Node's types.
 */

export interface SignatureState {
  /** `valid` (by a trusted key, or intact when no keys are configured), `untrusted`, `unsigned`, `tampered`, `malformed`, `unreadable`. */
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
  /** Served in the host process or in a runner child; the manifest's wish when the module is not loaded. */
  readonly isolation: string | null;
  /** module.yml's `execution`: `main` (the event loop's thread) or `pool` (worker threads). */
  readonly execution: string | null;
  readonly health: 'serving' | 'disabled' | 'off' | 'not-serving';
  readonly binarySha256: string | null;
  readonly signature: SignatureState;
  readonly loadedAt: string | null;
  readonly loadMs: number | null;
  readonly generation: number | null;
  /** `execution` is the route's effective one. */
  readonly routes: readonly { readonly method: string; readonly path: string; readonly execution: string | null }[];
  readonly dependencies: readonly string[];
  readonly dependents: readonly string[];
}

/** A plugin_events row; `code` is set where entries of several modules are mixed, `instance` in a fleet (PostgreSQL). */
export interface AuditEntry {
  readonly id: number;
  readonly code?: string;
  readonly kind: string;
  readonly detail: unknown;
  readonly at: string;
  readonly instance?: string;
}

/** One instance of a fleet serving (or having served) the module: its own state, and whether it is alive. */
export interface InstanceShape {
  readonly instance: string;
  readonly status: string;
  readonly lastError: string | null;
  readonly loadedAt: string | null;
  readonly binarySha256: string | null;
  readonly lastSeenAt: string | null;
  /** Heard of within the last few seconds; null for an instance of an earlier version, which does not say. */
  readonly live: boolean | null;
}

export interface MetricsShape {
  readonly requests: number;
  readonly errors: number;
  readonly clientErrors: number;
  readonly inFlight: number;
  readonly latencyMs: { readonly avg: number; readonly p50: number; readonly p99: number };
}

export interface ModuleDetail extends ModuleView {
  readonly description: string | null;
  readonly vendor: string | null;
  readonly moduleDir: string;
  /** module.yml's `config:` with secret-looking keys masked. */
  readonly config: unknown;
  readonly metrics: MetricsShape | null;
  readonly events: readonly AuditEntry[];
  readonly crashes: readonly AuditEntry[];
  /** Every instance of the fleet with a state for this module (database_url set); null for a lone host. */
  readonly instances: readonly InstanceShape[] | null;
}

export interface FindingShape {
  readonly rule: string;
  /** `note` is information: neither a pass nor a problem. */
  readonly status: 'pass' | 'fail' | 'warn' | 'note';
  readonly message: string;
}

export interface PackPreviewShape {
  readonly ok: boolean;
  /** Present when ok: what "apply" takes. */
  readonly uploadId: string | null;
  readonly code: string | null;
  readonly version: string | null;
  /** The version the host knows under this code now. */
  readonly replaces: string | null;
  readonly signedBy: string | null;
  readonly findings: readonly FindingShape[];
  /** The compliance report as `erpmod check` prints it. */
  readonly checkText: string | null;
  readonly error: { readonly code: string; readonly message: string } | null;
}
