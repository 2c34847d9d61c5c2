import { loadConfig } from '../config/load-config';
import { ErpmodError, messageOf } from '../errors';
import { createLogger } from '../logger';
import { startHost } from '../start-host';
import { parseOptions } from './run-cli';

/** `erpmod serve`: start, then stop gracefully on SIGTERM / SIGINT (exit 0), or exit 1 when boot fails. */
export async function serveCommand(argv: readonly string[]): Promise<number | undefined> {
  const { values } = parseOptions(argv, {
    port: { type: 'string' },
    'modules-dir': { type: 'string' },
    'data-dir': { type: 'string' },
    config: { type: 'string' },
  });
  const overrides: Record<string, unknown> = {};
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new ErpmodError('ERPMOD_USAGE', `--port: expected an integer from 0 to 65535, got "${String(values.port)}"`);
    }
    overrides.port = port;
  }
  if (typeof values['modules-dir'] === 'string') overrides.modulesDir = values['modules-dir'];
  if (typeof values['data-dir'] === 'string') overrides.dataDir = values['data-dir'];
  const config = loadConfig({ configFile: typeof values.config === 'string' ? values.config : undefined, overrides });

  const logger = createLogger(config.logLevel);
  let host;
  try {
    host = await startHost(config, { logger });
  } catch (error) {
    logger.fatal({ code: error instanceof ErpmodError ? error.code : 'ERPMOD_INTERNAL', err: messageOf(error) }, `boot failed: ${messageOf(error)}`);
    logger.flush?.();
    return 1;
  }

  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without waiting');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'signal received');
    host.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: messageOf(error) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  return undefined;
}
