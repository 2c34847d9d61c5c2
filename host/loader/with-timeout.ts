/**
 * Awaits a value that may be a promise, rejecting with `onTimeout()` when it has not settled in `ms`.
 * Only asynchronous work can be bounded this way: a native call that blocks the thread cannot be
 * interrupted in-process (that is what `isolation: process` is for).
 */
export async function withTimeout<T>(value: T | PromiseLike<T>, ms: number, onTimeout: () => Error): Promise<T> {
  if (!isThenable(value)) return value;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      Promise.resolve(value),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(onTimeout()), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function';
}
