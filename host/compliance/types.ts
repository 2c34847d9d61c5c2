/**
 * The shapes the compliance part hands to its callers (the host's loader, the CLI, the checker's child).
 * The compliance part depends on nothing else in the host but errors.ts.
 */

export const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export type Isolation = 'in-process' | 'process';

/** Where a route's handler runs: on the JavaScript thread (`main`) or on the native pool (`pool`). */
export type Execution = 'main' | 'pool';

export interface RouteDeclaration {
  readonly method: HttpMethod;
  /** The pattern as declared, e.g. `/orders/:id`. */
  readonly path: string;
  /** The route's own `execution`, else the module's. */
  readonly execution: Execution;
  /**
   * `json`: a request body must be JSON (`application/json` or `*+json`); any other content type is
   * answered 415 before the module runs. Unset, any body reaches the module (`rawBody` when not JSON).
   */
  readonly accepts?: 'json';
}

/** module.yml after validation, with YAML's snake_case keys turned into camelCase. */
export interface ModuleManifest {
  readonly code: string;
  readonly name: string;
  readonly version: string;
  readonly description: string | undefined;
  readonly vendor: string | undefined;
  readonly abi: { readonly erpmod: number; readonly napi: number };
  /** `<platform>-<arch>` → path relative to the module directory. */
  readonly binaries: Readonly<Record<string, string>>;
  readonly sha256: Readonly<Record<string, string>>;
  readonly dependencies: readonly string[];
  readonly featureFlag: string | undefined;
  /** As declared; undefined means "critical when another module depends on it". */
  readonly critical: boolean | undefined;
  readonly isolation: Isolation;
  readonly routes: readonly RouteDeclaration[];
  readonly events: { readonly publishes: readonly string[]; readonly subscribes: readonly string[] };
  /** Directory of NNN-name.sql files, relative to the module directory. */
  readonly migrations: string | undefined;
  readonly config: Readonly<Record<string, unknown>>;
  readonly timeouts: { readonly initMs: number; readonly requestMs: number };
  /** Module-level `execution` (default `main`); each route carries its effective value. */
  readonly execution: Execution;
  /** How many of the module's pool handlers may run at once (default 1). */
  readonly maxConcurrency: number;
  /** `http.allow`: `host:port` entries ctx.http may reach. */
  readonly http: { readonly allow: readonly string[] };
}

export interface LoadedManifest {
  readonly manifest: ModuleManifest;
  /** Absolute path of the module directory. */
  readonly moduleDir: string;
  /** Absolute path of module.yml. */
  readonly manifestPath: string;
}

export type BinaryFormat = 'elf' | 'macho' | 'pe';
export type Arch = 'x64' | 'arm64' | 'ia32' | 'arm' | 'ppc64' | 's390x' | 'riscv64' | 'unknown';

/** The info block (native-abi.md §2) as read from the binary. */
export interface InfoBlock {
  readonly raw: string;
  /** Every well-formed key=value line, first occurrence wins. */
  readonly fields: Readonly<Record<string, string>>;
  /** Keys the reader does not know (reported, not fatal). */
  readonly unknownKeys: readonly string[];
  /** Duplicate or malformed lines, missing required keys: each a human sentence. */
  readonly problems: readonly string[];
}

/** What the static phase sees in a binary, without executing it. */
export interface BinaryInfo {
  readonly format: BinaryFormat;
  readonly bits: 32 | 64;
  readonly endian: 'little' | 'big';
  readonly arch: Arch;
  /** Raw machine value (e_machine, cputype or IMAGE_FILE_MACHINE_*) for messages. */
  readonly machine: number;
  /** True for a shared library (ET_DYN, MH_DYLIB/MH_BUNDLE, IMAGE_FILE_DLL). */
  readonly isSharedLibrary: boolean;
  /** Names of defined, globally visible symbols. */
  readonly exports: readonly string[];
  /** Undefined symbols the library expects the process to provide. */
  readonly imports: readonly string[];
  /** Shared libraries it names as needed (DT_NEEDED, LC_LOAD_DYLIB, PE import DLL names). */
  readonly neededLibraries: readonly string[];
  /** Undefined when the binary has no `.erpmod` section / `__erpmod` section. */
  readonly infoBlock: InfoBlock | undefined;
  /**
   * The Node-API version the library declares: read from the machine code of
   * node_api_module_get_api_version_v1 when it is a recognisable constant return, otherwise undefined.
   */
  readonly declaredNapiFromCode: number | undefined;
}

export type RuleId =
  | 'manifest/schema'
  | 'binary/present'
  | 'binary/format'
  | 'binary/arch'
  | 'binary/sha256'
  | 'binary/signature'
  | 'abi/napi-entry'
  | 'abi/napi-version'
  | 'abi/no-legacy-entry'
  | 'abi/imports'
  | 'abi/erpmod-version'
  | 'meta/info-block'
  | 'meta/identity'
  | 'load/dlopen'
  | 'load/handler'
  | 'load/identity'
  | 'load/routes';

export type Severity = 'error' | 'warning';

export interface Violation {
  readonly rule: RuleId;
  readonly severity: Severity;
  /** One sentence naming what was expected and what was found. */
  readonly message: string;
  readonly expected?: string;
  readonly found?: string;
  readonly fix?: string;
  /** The file the violation is about (module.yml or the binary). */
  readonly file?: string;
}

export interface CheckTarget {
  /** `linux`, `darwin`, `win32`. */
  readonly platform: string;
  readonly arch: string;
  /** Highest Node-API version the running Node supports (process.versions.napi). */
  readonly maxNapi: number;
  /** erpmod ABI majors this host accepts. */
  readonly erpmodAbis: readonly number[];
}

export interface StaticReport {
  readonly code: string | undefined;
  readonly moduleDir: string;
  readonly target: CheckTarget;
  /** Absolute path of the binary checked, when the manifest named one. */
  readonly binaryPath: string | undefined;
  readonly binarySha256: string | undefined;
  readonly binary: BinaryInfo | undefined;
  /** Rules that ran and passed. */
  readonly passed: readonly RuleId[];
  readonly violations: readonly Violation[];
  /** No violation of severity error. */
  readonly ok: boolean;
}
