/**
 * Every error erpmod raises, in one place. A code never changes meaning once released; docs/errors.md
 * lists each one with its fix, and test/errors.test.ts keeps the two in step.
 */

export interface ErrorDefinition {
  /** HTTP status when the error reaches a client. */
  readonly status: number;
  /** One line: what went wrong, in general terms. */
  readonly summary: string;
}

export const ERROR_DEFINITIONS = {
  // Configuration and command line
  ERPMOD_CONFIG_INVALID: { status: 500, summary: 'a configuration value is missing or malformed' },
  ERPMOD_USAGE: { status: 400, summary: 'a command was called with arguments it does not accept' },
  ERPMOD_PORT_IN_USE: { status: 500, summary: 'the public or admin listener\'s port is taken by another process; found before any module boots' },

  // Manifest and discovery
  ERPMOD_MANIFEST_UNREADABLE: { status: 500, summary: 'module.yml could not be read or parsed as YAML' },
  ERPMOD_MANIFEST_INVALID: { status: 500, summary: 'module.yml does not match the schema' },
  ERPMOD_DUPLICATE_MODULE: { status: 500, summary: 'two module directories declare the same code' },
  ERPMOD_DEPENDENCY_MISSING: { status: 500, summary: 'a module depends on a code no module declares' },
  ERPMOD_DEPENDENCY_CYCLE: { status: 500, summary: 'module dependencies form a cycle' },


  // Loading and lifecycle
  ERPMOD_LOAD_FAILED: { status: 500, summary: 'process.dlopen refused the library' },
  ERPMOD_HANDLER_INVALID: { status: 500, summary: 'the library\'s Handler export is missing or incomplete' },
  ERPMOD_IDENTITY_MISMATCH: { status: 500, summary: 'the library reports a code or version other than its manifest' },
  ERPMOD_ROUTE_UNRESOLVED: { status: 500, summary: 'getHandler returned no function for a declared route' },
  ERPMOD_MIGRATION_FAILED: { status: 500, summary: 'a module database migration failed or was changed after it was applied' },
  ERPMOD_DATABASE_SETUP_FAILED: { status: 500, summary: 'the host could not create a module\'s schema or role on PostgreSQL' },
  ERPMOD_STORE_UNSUPPORTED: { status: 500, summary: 'a module cannot keep its data on the configured store (PostgreSQL)' },
  ERPMOD_DATABASE_UNAVAILABLE: { status: 503, summary: 'PostgreSQL (database_url) cannot be reached' },
  ERPMOD_INIT_FAILED: { status: 500, summary: 'the module\'s initialize() threw or rejected' },
  ERPMOD_INIT_TIMEOUT: { status: 500, summary: 'the module\'s initialize() did not finish within timeouts.init_ms' },
  ERPMOD_CRITICAL_MODULE_FAILED: { status: 500, summary: 'a critical module failed, so the host did not start' },
  ERPMOD_EVENT_NOT_DECLARED: { status: 500, summary: 'a module published or subscribed to a topic its manifest does not declare' },
  ERPMOD_MODULE_DATA_MISSING: { status: 500, summary: 'a module\'s database is missing, empty, replaced or another module\'s, though the registry records it' },

  // Data files (registry, module databases, shadow copies)
  ERPMOD_BACKUP_FAILED: { status: 500, summary: '`erpmod backup` could not make a whole backup (not a data directory, module data on PostgreSQL, a copy that fails its check); none was kept' },
  ERPMOD_STORAGE_FULL: { status: 507, summary: 'the disk holding the data directory is full; nothing was changed' },
  ERPMOD_STORAGE_UNAVAILABLE: { status: 503, summary: 'a data file cannot be opened, read or written (read-only, I/O error, not a database)' },

  // HTTP edge
  ERPMOD_NOT_FOUND: { status: 404, summary: 'no route matches the request' },
  ERPMOD_METHOD_NOT_ALLOWED: { status: 405, summary: 'the module has the path, but not for this method; Allow lists the methods it has' },
  ERPMOD_BODY_TOO_LARGE: { status: 413, summary: 'the request body is larger than the configured limit' },
  ERPMOD_BAD_JSON: { status: 400, summary: 'the request body is not valid JSON' },
  ERPMOD_HANDLER_FAILED: { status: 500, summary: 'the module\'s handler threw or rejected' },
  ERPMOD_BAD_RESPONSE: { status: 500, summary: 'the module\'s handler returned a value that is not a valid response' },
  ERPMOD_HANDLER_TIMEOUT: { status: 504, summary: 'the module\'s handler did not answer within timeouts.request_ms' },
  ERPMOD_MODULE_DISABLED: { status: 503, summary: 'an operator disabled the module' },
  ERPMOD_MODULE_NOT_ACTIVE: { status: 503, summary: 'the module is known but not serving' },
  ERPMOD_MODULE_CRASHED: { status: 502, summary: 'the isolated module\'s process died while serving the request' },
  ERPMOD_MODULE_UNAVAILABLE: { status: 503, summary: 'the isolated module is restarting after a crash, or its circuit is open' },
  ERPMOD_BUSY: { status: 503, summary: 'the host is at a capacity limit; retry after the Retry-After seconds' },

  // Outbound HTTP from modules (ctx.http); raised into the module, which chooses its answer
  ERPMOD_HTTP_NOT_ALLOWED: { status: 500, summary: 'ctx.http was asked for a host:port not in module.yml http.allow, or for a URL that is not http(s)' },
  ERPMOD_HTTP_UNREACHABLE: { status: 502, summary: 'ctx.http got no response: connection refused or reset, name not resolved, TLS failure' },
  ERPMOD_HTTP_TIMEOUT: { status: 504, summary: 'ctx.http got no complete response within its timeout' },
  ERPMOD_HTTP_RESPONSE_TOO_LARGE: { status: 502, summary: 'the response to a ctx.http request exceeded the host\'s size bound' },

  // Operator API
  ERPMOD_UNAUTHORIZED: { status: 401, summary: 'an operator route was called without the right admin token' },
  ERPMOD_FORBIDDEN: { status: 403, summary: 'the loopback admin listener was called with a Host header that names no loopback address' },
  ERPMOD_FOREIGN_ORIGIN: { status: 403, summary: 'a state-changing operator request came from a web page of another origin' },
  ERPMOD_UNSUPPORTED_MEDIA_TYPE: { status: 415, summary: 'a request body that must be JSON (state-changing operator requests, module routes declared accepts: json) carried another content type' },
  ERPMOD_OPERATOR_ROUTE_MOVED: { status: 404, summary: 'operator routes are served by the admin listener, not the public one' },
  ERPMOD_CSRF_REJECTED: { status: 403, summary: 'a state-changing request authenticated by the console session cookie lacked the session\'s x-erpmod-csrf token' },
  ERPMOD_TOO_MANY_ATTEMPTS: { status: 429, summary: 'too many failed console logins from one client address; wait, then try again' },
  ERPMOD_RELOAD_FAILED: { status: 422, summary: 'the new build could not be loaded; the old generation keeps serving' },
  ERPMOD_OPERATION_CONFLICT: { status: 409, summary: 'the operation conflicts with the state of the module or of its dependencies' },
  ERPMOD_INTERNAL: { status: 500, summary: 'an unexpected error inside the host' },

  // Compliance checker (erpmod check / inspect)
  ERPMOD_CHECK_PATH_UNREADABLE: { status: 500, summary: 'a module directory given to the checker cannot be read' },
  ERPMOD_LOAD_CHECK_FAILED: { status: 500, summary: 'the checker could not start its load-phase child process' },
  ERPMOD_BINARY_UNREADABLE: { status: 500, summary: 'the file given to erpmod inspect cannot be read or is not a binary it understands' },

  // Vendor workflow (erpmod new / build / pack / verify / install / keygen)
  ERPMOD_TARGET_EXISTS: { status: 409, summary: 'a directory or key file the command would create already exists' },
  ERPMOD_BUILD_FAILED: { status: 500, summary: 'the module\'s builder failed or produced no library' },
  ERPMOD_TOOLCHAIN_MISSING: { status: 500, summary: 'the compiler or tool a (cross) build needs is not installed' },
  ERPMOD_KEY_INVALID: { status: 400, summary: 'a signing key file or trusted key cannot be read or is not Ed25519' },
  ERPMOD_PACK_FAILED: { status: 500, summary: 'erpmod pack could not make a pack of the module directory' },
  ERPMOD_PACK_INVALID: { status: 400, summary: 'the file is not a well-formed erpmod module pack' },
  ERPMOD_PACK_REJECTED: { status: 422, summary: 'a pack failed verification (digest, signature) or the compliance check' },
  ERPMOD_INSTALL_FAILED: { status: 500, summary: 'the modules directory could not take the module; it was left as it was' },
  ERPMOD_HOST_UNREACHABLE: { status: 502, summary: 'no erpmod host answered at the URL erpmod install --reload called' },
} as const satisfies Record<string, ErrorDefinition>;

export type ErrorCode = keyof typeof ERROR_DEFINITIONS;

export interface ErpmodErrorOptions {
  cause?: unknown;
  /** Structured facts for logs, the registry and JSON replies (never secrets). */
  details?: Record<string, unknown>;
}

export class ErpmodError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: ErpmodErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ErpmodError';
    this.code = code;
    this.status = ERROR_DEFINITIONS[code].status;
    this.details = options.details;
  }
}

export function isErpmodError(value: unknown): value is ErpmodError {
  return value instanceof ErpmodError;
}

/** The message of anything thrown, for logs and registry rows. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
