import { hostExecutionPool } from './execution-pool';

export interface ExecutionSettings {
  readonly poolThreads: number;
  readonly poolQueueLimit: number;
  readonly httpMaxResponseBytes: number;
}

let applied: ExecutionSettings = { poolThreads: hostExecutionPool.threads, poolQueueLimit: hostExecutionPool.queueLimit, httpMaxResponseBytes: 8 * 1024 * 1024 };

/** Applies the host configuration to this process's execution pool and ctx.http. */
export function configureExecution(settings: ExecutionSettings): void {
  hostExecutionPool.configure({ threads: settings.poolThreads, queueLimit: settings.poolQueueLimit });
  applied = { poolThreads: settings.poolThreads, poolQueueLimit: settings.poolQueueLimit, httpMaxResponseBytes: settings.httpMaxResponseBytes };
}

/** What this process applied: an isolated module's runner applies the same (docs/decisions.md). */
export function executionSettings(): ExecutionSettings {
  return applied;
}

export function configuredHttpMaxResponseBytes(): number {
  return applied.httpMaxResponseBytes;
}
