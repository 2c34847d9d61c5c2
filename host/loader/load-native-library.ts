import os from 'node:os';
import { ErpmodError, messageOf } from '../errors';

/** The object `Handler()` returns (native-abi.md §3), as the host uses it. */
export interface ModuleHandler {
  getModuleCode(): unknown;
  getModuleVersion(): unknown;
  initialize(ctx: unknown): unknown;
  getHandler(route: string, method: string): unknown;
  /** SDKs with execution: pool: the function serving a route with `execution: pool` (returns a promise of the reply). */
  getPoolHandler?(route: string, method: string): unknown;
  /**
   * SDKs with fibers, where the platform has them: the function serving a route on the JavaScript
   * thread that waits for ctx suspended, not on a thread (returns a promise of the reply).
   */
  getSuspendingHandler?(route: string, method: string): unknown;
  cleanup(): unknown;
  health?(): unknown;
}

const REQUIRED_METHODS = ['getModuleCode', 'getModuleVersion', 'initialize', 'getHandler', 'cleanup'] as const;

/**
 * dlopens a library that already passed the static checks, with RTLD_NOW so that a missing symbol is a
 * catchable error now instead of a process exit at the first call, then calls Handler() and checks the
 * handler's shape. Never call this on a file the static phase has not accepted: a library declaring
 * Node-API 10+ crashes Node 20 inside dlopen.
 */
export function loadNativeLibrary(code: string, file: string): ModuleHandler {
  const holder = { exports: {} as Record<string, unknown> };
  try {
    process.dlopen(holder, file, os.constants.dlopen.RTLD_NOW);
  } catch (error) {
    throw new ErpmodError('ERPMOD_LOAD_FAILED', `module "${code}": process.dlopen(${file}) failed: ${messageOf(error)}`, { cause: error });
  }
  const factory = holder.exports.Handler;
  if (typeof factory !== 'function') {
    throw new ErpmodError(
      'ERPMOD_HANDLER_INVALID',
      `module "${code}": expected the library to export a function "Handler", found ${describe(factory)}; exports are: ${Object.keys(holder.exports).join(', ') || 'none'}`,
    );
  }
  let handler: unknown;
  try {
    handler = (factory as () => unknown)();
  } catch (error) {
    throw new ErpmodError('ERPMOD_HANDLER_INVALID', `module "${code}": Handler() threw: ${messageOf(error)}`, { cause: error });
  }
  if (handler === null || typeof handler !== 'object') {
    throw new ErpmodError('ERPMOD_HANDLER_INVALID', `module "${code}": expected Handler() to return an object, got ${describe(handler)}`);
  }
  const missing = REQUIRED_METHODS.filter((name) => typeof (handler as Record<string, unknown>)[name] !== 'function');
  if (missing.length > 0) {
    throw new ErpmodError(
      'ERPMOD_HANDLER_INVALID',
      `module "${code}": the object Handler() returned lacks ${missing.join(', ')}; expected methods ${REQUIRED_METHODS.join(', ')}`,
    );
  }
  return handler as ModuleHandler;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value;
}
