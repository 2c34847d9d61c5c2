/**
 * The flags the host's Node process should run with, and a check that it does.
 *
 * `--no-memory-reducer`: V8's memory reducer collects garbage in the first idle spell after a busy one
 * (about 8 s without much allocation). In the host — whose boot allocates far more than a bare server —
 * those collections leave Node's own per-request code (process.nextTick's tick objects, in Node 20) on a
 * slow path that it never leaves: a light module route then costs 10–15 % more CPU for the rest of the
 * process's life, i.e. from the first quiet moment of every production host. A bare node:http server
 * does not show it. Without the reducer, memory is still returned by the ordinary collections; what is
 * lost is the prompt shrinking of an idle heap (docs/decisions.md, measured in docs/benchmarks.md).
 * V8 reads the flag when the heap is set up, so it has to be on Node's command line: `npm start`, the
 * `erpmod` command and cluster workers (which inherit it) have it.
 */
export const HOST_NODE_FLAGS: readonly string[] = ['--no-memory-reducer'];

/** The host flags this process was started without (empty when all are there). */
export function missingHostNodeFlags(execArgv: readonly string[] = process.execArgv): string[] {
  return HOST_NODE_FLAGS.filter((flag) => !execArgv.includes(flag));
}
