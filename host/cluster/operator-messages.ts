/**
 * How an operator action reaches every worker of a cluster: the worker that took the HTTP request asks
 * the primary (`operate`), the primary has every serving worker apply it (`apply` → `applied`) and
 * answers the asking worker with all the results (`operated`).
 */

export type OperatorAction = 'reload' | 'enable' | 'disable';

export interface OperateMessage {
  readonly t: 'erpmod:operate';
  readonly id: string;
  readonly action: OperatorAction;
  readonly code: string;
}

export interface ApplyMessage {
  readonly t: 'erpmod:apply';
  readonly id: string;
  readonly action: OperatorAction;
  readonly code: string;
}

export type WorkerResult =
  | { readonly pid: number; readonly ok: true; readonly result: Record<string, unknown> }
  | { readonly pid: number; readonly ok: false; readonly code: string; readonly message: string };

export interface AppliedMessage {
  readonly t: 'erpmod:applied';
  readonly id: string;
  readonly outcome: WorkerResult;
}

export interface OperatedMessage {
  readonly t: 'erpmod:operated';
  readonly id: string;
  readonly results: readonly WorkerResult[];
}

export function isMessage<T extends { t: string }>(value: unknown, t: T['t']): value is T {
  return value !== null && typeof value === 'object' && (value as { t?: unknown }).t === t;
}
