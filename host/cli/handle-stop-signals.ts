import { messageOf } from '../errors';
import type { Logger } from '../logger';
import type { RunningHost } from '../start-host';

/**
 * After shutdown_timeout_ms, how long a stopping process has to clean its modules up and exit before it
 * is ended anyway (by itself, or in a cluster by the primary's SIGKILL).
 */
export const EXIT_GRACE_MS = 5000;

export interface StopSignalsOptions {
  readonly logger: Logger;
  readonly shutdownTimeoutMs: number;
  /**
   * In a cluster worker the primary leads: SIGTERM/SIGINT only ever start the drain (a signal to the
   * whole process group reaches the worker and then the primary's own request reaches it too), and
   * escalation is the primary's SIGKILL. A lone process exits 1 at once on a second signal.
   */
  readonly worker: boolean;
}

export interface StopSignals {
  /** Hands over the booted host: false when a stop was asked for during boot (the host is then being closed). */
  booted(host: RunningHost): boolean;
}

/**
 * SIGTERM/SIGINT handling for a serving process, installed before boot so that a signal at any moment
 * counts: during boot the host finishes booting (each module's initialise is bounded by its init_ms)
 * and is closed at once without serving; once running it drains and exits 0. Either way the process
 * exits 1 if it has not ended within shutdown_timeout_ms plus EXIT_GRACE_MS.
 */
export function handleStopSignals(options: StopSignalsOptions): StopSignals {
  const { logger } = options;
  let host: RunningHost | undefined;
  let stopSignal: NodeJS.Signals | undefined;

  const closeAndExit = (running: RunningHost): void => {
    running.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: messageOf(error) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopSignal !== undefined) {
      if (options.worker) return void logger.info({ signal }, 'already stopping; the primary kills this worker if it takes too long');
      logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopSignal = signal;
    logger.info({ signal, booting: host === undefined }, 'signal received');
    const boundMs = options.shutdownTimeoutMs + EXIT_GRACE_MS;
    setTimeout(() => {
      logger.error({ signal, boundMs }, `shutdown did not finish within ${boundMs} ms; exiting`);
      process.exit(1);
    }, boundMs).unref();
    if (host !== undefined) closeAndExit(host);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // Rolling restarts are the primary's business: a SIGHUP sent to the whole group must not end a worker.
  if (options.worker) process.on('SIGHUP', () => {});

  return {
    booted(running) {
      host = running;
      if (stopSignal === undefined) return true;
      logger.info({ signal: stopSignal }, 'boot finished after a stop signal; closing without serving');
      closeAndExit(running);
      return false;
    },
  };
}
