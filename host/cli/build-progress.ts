/**
 * What `erpmod build` (and `erpmod dev`) print while a build runs: on a terminal, one line per phase
 * with its elapsed time, the running phase shown with a ticking clock; elsewhere (CI logs, pipes)
 * nothing until the one-line summary, so logs stay one line per build.
 */

import type { PhaseEvent, PhaseListener } from '../packaging/run-builder-steps';

export interface ProgressWriter {
  readonly listener: PhaseListener;
  /** Clears a ticking line, before an error or the summary is printed. */
  stop(): void;
}

export function phaseLine(event: PhaseEvent): string {
  return `  ${event.phase.padEnd(10)} ${((event.ms ?? 0) / 1000).toFixed(1)} s`;
}

export function buildProgress(stream: NodeJS.WriteStream = process.stdout): ProgressWriter {
  if (stream.isTTY !== true) return { listener: () => {}, stop: () => {} };
  let timer: NodeJS.Timeout | undefined;
  const clear = (): void => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
    stream.write('\r\x1b[K');
  };
  return {
    listener(event) {
      clear();
      if (event.state === 'done') {
        stream.write(`${phaseLine(event)}\n`);
        return;
      }
      const started = Date.now();
      const tick = (): void => {
        stream.write(`\r\x1b[K  ${event.phase.padEnd(10)} ${((Date.now() - started) / 1000).toFixed(1)} s ...`);
      };
      tick();
      timer = setInterval(tick, 200);
    },
    stop: clear,
  };
}
