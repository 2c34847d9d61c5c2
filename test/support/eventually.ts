/**
 * Polls `check` every `everyMs` until it holds; fails naming `what` once `timeoutMs` have passed. For
 * what a test waits on from another process (a log line, a counter, a reload), which has no event to await.
 */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000, everyMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
