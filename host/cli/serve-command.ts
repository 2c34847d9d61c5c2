import cluster from 'node:cluster';
import { READY_MESSAGE, runPrimary } from '../cluster/run-primary';
import { loadConfig } from '../config/load-config';
import { ErpmodError, messageOf } from '../errors';
import { createLogger, resolveLogFormat, type Logger } from '../logger';
import { checkPortsFree } from '../http/check-ports-free';
import { missingHostNodeFlags } from '../runtime/node-flags';
import { startHost } from '../start-host';
import { handleStopSignals } from './handle-stop-signals';
import { parseOptions, portOption } from './parse-options';

/**
 * `erpmod serve`: start, then stop gracefully on SIGTERM / SIGINT (exit 0), or exit 1 when boot fails
 * (handle-stop-signals.ts has the details, run-primary.ts the cluster's side).
 * With more than one worker this process becomes the cluster primary and each worker runs this again.
 */
export async function serveCommand(argv: readonly string[]): Promise<number | undefined> {
  const { values } = parseOptions(argv, {
    port: { type: 'string' },
    'modules-dir': { type: 'string' },
    'data-dir': { type: 'string' },
    config: { type: 'string' },
    workers: { type: 'string' },
    'admin-port': { type: 'string' },
    'admin-host': { type: 'string' },
    'accept-new-data': { type: 'string' },
  });
  const overrides: Record<string, unknown> = {};
  if (values.port !== undefined) overrides.port = portOption('--port', values.port);
  if (values['admin-port'] !== undefined) overrides.adminPort = portOption('--admin-port', values['admin-port']);
  if (typeof values['admin-host'] === 'string') overrides.adminHost = values['admin-host'];
  if (values.workers !== undefined) {
    const workers = Number(values.workers);
    if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
      throw new ErpmodError('ERPMOD_USAGE', `--workers: expected an integer from 1 to 256, got "${String(values.workers)}"`);
    }
    overrides.workers = workers;
  }
  if (typeof values['modules-dir'] === 'string') overrides.modulesDir = values['modules-dir'];
  if (typeof values['data-dir'] === 'string') overrides.dataDir = values['data-dir'];
  const configOptions = { configFile: typeof values.config === 'string' ? values.config : undefined, overrides };
  const config = loadConfig(configOptions);

  const logger = createLogger(config.logLevel, undefined, resolveLogFormat(config.logFormat));
  if (config.workers > 1 && cluster.isPrimary) {
    await checkPortsFree(config);
    adviseNodeFlags(logger);
    const code = await runPrimary({ workers: config.workers, logger, drainTimeoutMs: config.shutdownTimeoutMs, bootTimeoutMs: 60_000 });
    // The workers are gone: exit now rather than wait for a stray timer.
    process.exit(code);
  }
  const signals = handleStopSignals({ logger, shutdownTimeoutMs: config.shutdownTimeoutMs, worker: cluster.isWorker });
  let host;
  try {
    host = await startHost(config, { logger, rereadConfig: () => loadConfig(configOptions), acceptNewData: codesOf(values['accept-new-data']) });
  } catch (error) {
    logger.fatal({ code: error instanceof ErpmodError ? error.code : 'ERPMOD_INTERNAL', err: messageOf(error) }, `boot failed: ${messageOf(error)}`);
    logger.flush?.();
    // Now, not when the event loop empties: a cluster worker's channel to the primary would keep it
    // alive until the primary's boot timeout.
    process.exit(1);
  }
  if (signals.booted(host) && cluster.isWorker) process.send?.(READY_MESSAGE);
  // Workers inherit the primary's flags, and the primary has said it.
  if (cluster.isPrimary) adviseNodeFlags(logger);
  return undefined;
}

/** Once, after the checks that refuse to start: which host Node flags are missing, and how to start with them. */
function adviseNodeFlags(logger: Logger): void {
  const missing = missingHostNodeFlags();
  if (missing.length === 0) return;
  logger.info(
    { nodeFlags: missing },
    `Node was started without ${missing.join(' ')}: module routes may cost 10–15% more CPU after the host's first idle spell; start it as \`node ${missing.join(' ')} …/erpmod.js serve\` (npm start and the erpmod command do)`,
  );
}

/** `--accept-new-data inventory,sales`: the modules whose recorded database the operator lets go for this boot. */
function codesOf(value: string | boolean | undefined): ReadonlySet<string> {
  if (typeof value !== 'string') return new Set();
  const codes = value.split(',').map((code) => code.trim()).filter((code) => code !== '');
  if (codes.length === 0) throw new ErpmodError('ERPMOD_USAGE', `--accept-new-data: expected one or more module codes separated by commas, got "${value}"`);
  return new Set(codes);
}
