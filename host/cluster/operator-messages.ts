/**
 * How an operator action reaches every worker of a cluster: the worker that took the HTTP request asks
 * the primary (`operate`); the primary has every serving worker stage it (`apply` with phase `stage` →
 * `applied`: checked and loaded, nothing switched), then apply it when all of them could, or cancel it
 * in those that staged it when one could not; then it answers the asking worker with every result
 * (`operated`). Either every worker switches or none does: a build that one worker cannot load leaves
 * all of them on the one they serve.
 */

export type OperatorAction = 'reload' | 'enable' | 'disable';

export interface OperateMessage {
  readonly t: 'erpmod:operate';
  readonly id: string;
  readonly action: OperatorAction;
  readonly code: string;
}

export type ApplyPhase = 'stage' | 'apply' | 'cancel';

export interface ApplyMessage {
  readonly t: 'erpmod:apply';
  readonly id: string;
  readonly action: OperatorAction;
  readonly code: string;
  readonly phase: ApplyPhase;
}

export type WorkerResult =
  | { readonly pid: number; readonly ok: true; readonly result: Record<string, unknown> }
  | { readonly pid: number; readonly ok: false; readonly code: string; readonly message: string };

export interface AppliedMessage {
  readonly t: 'erpmod:applied';
  readonly id: string;
  readonly phase: ApplyPhase;
  readonly outcome: WorkerResult;
}

export interface OperatedMessage {
  readonly t: 'erpmod:operated';
  readonly id: string;
  readonly results: readonly WorkerResult[];
  /** A worker could not stage the action, so none applied it: `results` are the staging's. */
  readonly cancelled: boolean;
}

export function isMessage<T extends { t: string }>(value: unknown, t: T['t']): value is T {
  return value !== null && typeof value === 'object' && (value as { t?: unknown }).t === t;
}
