/**
 * What the load-phase parent and its throw-away child say to each other. The parent passes one
 * LoadRequest as JSON in argv; the child writes one JSON message per line to file descriptor 3, each
 * with a synchronous write, so that the last step begun is on record before vendor code can crash the
 * child. Messages are parsed defensively: vendor code runs in the child and could write to fd 3 too.
 */

import type { RuleId } from '../types';

export interface LoadRequest {
  /** Absolute path of the library (process.dlopen refuses relative paths). */
  readonly file: string;
  /**
   * The library's path as the checker names it, when the child loads a private copy (a root checker
   * drops the child's uid and copies the module for it): in the child's command line, so `ps` shows
   * which module a child is checking.
   */
  readonly origin?: string;
  readonly code: string;
  readonly version: string;
  /** `execution: pool` routes resolve through getPoolHandler, the others through getHandler. */
  readonly routes: readonly { readonly method: string; readonly path: string; readonly execution?: 'main' | 'pool' }[];
}

/** The load rules in the order the child runs them; a step that fails ends the steps after it. */
export const LOAD_STEPS = ['load/dlopen', 'load/handler', 'load/identity', 'load/routes'] as const satisfies readonly RuleId[];
export type LoadStep = (typeof LOAD_STEPS)[number];

export type ChildMessage =
  | { readonly type: 'step'; readonly rule: LoadStep }
  | { readonly type: 'finding'; readonly rule: LoadStep; readonly message: string; readonly expected?: string; readonly found?: string }
  | { readonly type: 'done' };

/** The fd the child reports on (stdin, stdout and stderr stay free for whatever vendor code prints). */
export const REPORT_FD = 3;

/** Bounds what a misbehaving child can make the parent hold in memory. */
export const MAX_REPORT_BYTES = 256 * 1024;
const MAX_TEXT = 2000;

function isStep(value: unknown): value is LoadStep {
  return typeof value === 'string' && (LOAD_STEPS as readonly string[]).includes(value);
}

function optionalText(value: unknown): string | undefined {
  return typeof value === 'string' ? value.slice(0, MAX_TEXT) : undefined;
}

/** One line from the child, or undefined when it is not a message this protocol knows. */
export function parseChildMessage(line: string): ChildMessage | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const record = value as Record<string, unknown>;
  if (record.type === 'done') return { type: 'done' };
  if (!isStep(record.rule)) return undefined;
  if (record.type === 'step') return { type: 'step', rule: record.rule };
  if (record.type === 'finding' && typeof record.message === 'string') {
    const expected = optionalText(record.expected);
    const found = optionalText(record.found);
    return {
      type: 'finding', rule: record.rule, message: record.message.slice(0, MAX_TEXT),
      ...(expected === undefined ? {} : { expected }), ...(found === undefined ? {} : { found }),
    };
  }
  return undefined;
}

/** The request as the child receives it, or undefined when argv does not carry a well-formed one. */
export function parseLoadRequest(text: string | undefined): LoadRequest | undefined {
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  const r = value as Record<string, unknown>;
  if (typeof r.file !== 'string' || typeof r.code !== 'string' || typeof r.version !== 'string' || !Array.isArray(r.routes)) return undefined;
  const routes = r.routes.filter(
    (x): x is { method: string; path: string } =>
      x !== null && typeof x === 'object' && typeof (x as Record<string, unknown>).method === 'string' && typeof (x as Record<string, unknown>).path === 'string',
  );
  if (routes.length !== r.routes.length) return undefined;
  return { file: r.file, code: r.code, version: r.version, routes };
}
