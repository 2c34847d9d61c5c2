import { hostExecutionPool } from './execution-pool';

export interface ExecutionSettings {
  readonly poolThreads: number;
  readonly poolQueueLimit: number;
  readonly httpMaxResponseBytes: number;
}

let httpMaxResponseBytes = 8 * 1024 * 1024;

/** Applies the host configuration to this process's execution pool and ctx.http. */
export function configureExecution(settings: ExecutionSettings): void {
  hostExecutionPool.configure({ threads: settings.poolThreads, queueLimit: settings.poolQueueLimit });
  httpMaxResponseBytes = settings.httpMaxResponseBytes;
}

export function configuredHttpMaxResponseBytes(): number {
  return httpMaxResponseBytes;
}
