/**
 * The load phase's throw-away child (compiled to dist/host/compliance/load/load-child.js and started by
 * run-load-check.ts). It dlopens one library with RTLD_NOW, calls Handler(), checks the handler's
 * methods and identity, and resolves every declared route with getHandler(path, METHOD).
 *
 * It deliberately never calls initialize(), cleanup(), health() or a route function: the checker must be
 * safe to run on a vendor's CI runner, so no vendor business code runs beyond what loading itself
 * executes (the library's registration function, Handler() and the methods named above). A crash or hang
 * in those is what this process exists to absorb; the parent reads which step was under way from fd 3.
 */

// Only Node's built-ins and ./child-protocol: prepare-load-dir.ts copies exactly these two compiled
// files when a root checker drops the child's uid.
import fs from 'node:fs';
import os from 'node:os';
import { REPORT_FD, parseLoadRequest } from './child-protocol';
import type { ChildMessage, LoadRequest, LoadStep } from './child-protocol';

const REQUIRED_METHODS = ['getModuleCode', 'getModuleVersion', 'initialize', 'getHandler', 'cleanup'] as const;

const pause = new Int32Array(new SharedArrayBuffer(4));

function send(message: ChildMessage): void {
  // Synchronous on purpose: a segfault on the next line must not lose this report. The fd may be
  // non-blocking (only 0-2 are made blocking for a child), so a full pipe is waited out, not dropped.
  const bytes = Buffer.from(`${JSON.stringify(message)}\n`);
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += fs.writeSync(REPORT_FD, bytes, offset);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
      Atomics.wait(pause, 0, 0, 2);
    }
  }
}

function finding(rule: LoadStep, message: string, expected?: string, found?: string): void {
  send({ type: 'finding', rule, message, ...(expected === undefined ? {} : { expected }), ...(found === undefined ? {} : { found }) });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (typeof value === 'object') return 'an object';
  return typeof value === 'function' ? 'a function' : `${typeof value} ${String(value)}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Returns the handler object, or undefined after reporting why there is none. */
function loadHandler(request: LoadRequest): Record<string, unknown> | undefined {
  send({ type: 'step', rule: 'load/dlopen' });
  const holder = { exports: {} as Record<string, unknown> };
  try {
    process.dlopen(holder, request.file, os.constants.dlopen.RTLD_NOW);
  } catch (error) {
    finding('load/dlopen', `process.dlopen with RTLD_NOW failed: ${messageOf(error)}`, 'the library loads with RTLD_NOW', messageOf(error));
    return undefined;
  }

  send({ type: 'step', rule: 'load/handler' });
  const factory = holder.exports.Handler;
  if (typeof factory !== 'function') {
    const names = Object.keys(holder.exports);
    finding('load/handler', `the library exports no function "Handler" (exports: ${names.join(', ') || 'none'})`,
      'a function export named Handler', `Handler is ${describe(factory)}`);
    return undefined;
  }
  let handler: unknown;
  try {
    handler = (factory as () => unknown)();
  } catch (error) {
    finding('load/handler', `Handler() threw: ${messageOf(error)}`, 'Handler() returns the module handler object', `it threw: ${messageOf(error)}`);
    return undefined;
  }
  if (handler === null || typeof handler !== 'object') {
    finding('load/handler', `Handler() returned ${describe(handler)}, not an object`, 'an object', describe(handler));
    return undefined;
  }
  const record = handler as Record<string, unknown>;
  const missing = REQUIRED_METHODS.filter((name) => typeof record[name] !== 'function');
  if (missing.length > 0) {
    finding('load/handler', `the object Handler() returned lacks ${missing.join(', ')}`,
      `methods ${REQUIRED_METHODS.join(', ')}`, `missing ${missing.join(', ')}`);
    return undefined;
  }
  return record;
}

function checkIdentity(handler: Record<string, unknown>, request: LoadRequest): void {
  send({ type: 'step', rule: 'load/identity' });
  const pairs = [['getModuleCode', request.code, 'code'], ['getModuleVersion', request.version, 'version']] as const;
  for (const [method, wanted, field] of pairs) {
    let got: unknown;
    try {
      got = (handler[method] as () => unknown).call(handler);
    } catch (error) {
      finding('load/identity', `${method}() threw: ${messageOf(error)}`, JSON.stringify(wanted), `it threw: ${messageOf(error)}`);
      continue;
    }
    if (got !== wanted) {
      finding('load/identity', `${method}() returned ${describe(got)}, but module.yml ${field} is ${JSON.stringify(wanted)}`,
        JSON.stringify(wanted), describe(got));
    }
  }
}

function checkRoutes(handler: Record<string, unknown>, request: LoadRequest): void {
  send({ type: 'step', rule: 'load/routes' });
  for (const route of request.routes) {
    const method = route.method.toUpperCase();
    const resolver = route.execution === 'pool' ? 'getPoolHandler' : 'getHandler';
    const resolve = handler[resolver];
    if (typeof resolve !== 'function') {
      finding('load/routes', `${method} ${route.path} has execution: pool, but the handler object has no getPoolHandler (built before the SDK had execution: pool, or by hand)`,
        'a getPoolHandler function', describe(resolve));
      continue;
    }
    let got: unknown;
    try {
      got = (resolve as (route: string, method: string) => unknown).call(handler, route.path, method);
    } catch (error) {
      finding('load/routes', `${resolver}("${route.path}", "${method}") threw: ${messageOf(error)}`, 'a function', `it threw: ${messageOf(error)}`);
      continue;
    }
    if (typeof got !== 'function') {
      finding('load/routes', `${method} ${route.path} is declared in module.yml, but ${resolver}("${route.path}", "${method}") returned ${describe(got)}`,
        'a function', describe(got));
    }
  }
}

function main(): number {
  const request = parseLoadRequest(process.argv[2]);
  if (request === undefined) {
    process.stderr.write('load-child: expected a JSON load request as the first argument\n');
    return 2;
  }
  const handler = loadHandler(request);
  if (handler !== undefined) {
    checkIdentity(handler, request);
    checkRoutes(handler, request);
  }
  send({ type: 'done' });
  return 0;
}

// Exit explicitly: a handle the library opened at registration must not keep the child alive until the
// parent's timeout.
process.exit(main());
