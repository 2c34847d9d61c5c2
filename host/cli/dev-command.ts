/**
 * `erpmod dev [MODULE_DIR...]`: a local host serving the modules, rebuilt, checked and hot-reloaded on
 * every save (host/packaging/dev-session.ts). Runs until SIGINT / SIGTERM; exit 2 on usage, 1 when the host
 * cannot start.
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type HostConfig } from '../config/load-config';
import { readTokenFile } from '../config/admin-token';
import { ErpmodError, messageOf } from '../errors';
import { createLogger } from '../logger';
import { startHost, type RunningHost } from '../start-host';
import { DevSession } from '../packaging/dev-session';
import { buildProgress } from './build-progress';
import { parseOptions, portOption } from './parse-options';

export const DEV_USAGE = `usage: erpmod dev [MODULE_DIR...] [--port N] [--admin-port N] [--data-dir DIR] [--log-level LEVEL] [--config FILE]

Builds each module (default: the current directory) with its own builder, checks it, and serves it from
a local host with SQLite. Then watches each module's sources and module.yml: a change rebuilds, checks
and hot-reloads the module, printing one line per phase with its time and a compiler error once as
file:line. A failed build, check or reload leaves the last good build serving.

The dev host ignores erpmod.config.yml and ERPMOD_* settings (unless --config is given): it signs
nothing and requires no signature. Production hosts load prebuilt, signed packs (erpmod pack, install).

options:
  --port N           the public port (default 3000; 0 picks a free one)
  --admin-port N     the admin listener's port (default 0: a free one, printed)
  --data-dir DIR     where the dev host keeps its databases, modules and admin-token file
                     (default: a new temporary directory, removed at exit)
  --log-level LEVEL  the host's log level (default warn; info shows the modules' ctx.logger lines)
  --config FILE      start from this host configuration instead of the defaults

exit codes: 0 stopped by SIGINT/SIGTERM, 1 the host could not start, 2 usage
`;

const LOG_LEVELS: readonly string[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export async function devCommand(argv: readonly string[]): Promise<number | undefined> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(DEV_USAGE);
    return 0;
  }
  const { values, positionals } = parseOptions(argv, {
    port: { type: 'string' },
    'admin-port': { type: 'string' },
    'data-dir': { type: 'string' },
    'log-level': { type: 'string' },
    config: { type: 'string' },
  });
  const logLevel = typeof values['log-level'] === 'string' ? values['log-level'] : 'warn';
  if (!LOG_LEVELS.includes(logLevel)) throw new ErpmodError('ERPMOD_USAGE', `--log-level: expected one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  const modules = DevSession.describe(positionals.length === 0 ? ['.'] : positionals);
  const temporary = typeof values['data-dir'] !== 'string';
  const dataDir = temporary ? fs.mkdtempSync(path.join(os.tmpdir(), 'erpmod-dev-')) : path.resolve(values['data-dir'] as string);
  const modulesDir = path.join(dataDir, 'modules');
  fs.mkdirSync(modulesDir, { recursive: true });
  const config = loadConfig({
    cwd: dataDir,
    env: {},
    configFile: typeof values.config === 'string' ? path.resolve(values.config) : undefined,
    overrides: {
      dataDir,
      modulesDir,
      port: portOption('--port', values.port ?? '3000'),
      adminPort: portOption('--admin-port', values['admin-port'] ?? '0'),
      logLevel: logLevel as HostConfig['logLevel'],
      workers: 1,
      requireSignature: false,
    },
  });

  const out = (text: string): void => {
    process.stdout.write(`${text}\n`);
  };
  const session = new DevSession(modules, modulesDir, {
    line: (code, text) => out(`[${code}] ${text}`),
    onPhase: () => buildProgress(process.stdout).listener,
  });
  await session.prepare();

  let host: RunningHost;
  try {
    host = await startHost(config, { logger: createLogger(config.logLevel), announce: () => {} });
  } catch (error) {
    process.stderr.write(`erpmod: ${error instanceof ErpmodError ? error.code : 'ERPMOD_INTERNAL'}: the dev host did not start: ${messageOf(error)}\n`);
    if (temporary) fs.rmSync(dataDir, { recursive: true, force: true });
    return 1;
  }
  const adminToken = host.adminTokenFile === undefined ? (config.adminToken ?? '') : readTokenFile(host.adminTokenFile);
  session.attach({ adminUrl: host.adminUrl, adminToken });
  session.watch();
  for (const m of modules) out(`[${m.code}] ${host.url}/api/v1/${m.code}/ (watching ${path.relative(process.cwd(), m.dir) || '.'})`);
  out(`erpmod dev: serving at ${host.url}; admin ${host.adminUrl} (token: ${host.adminTokenFile ?? 'admin_token'}); data in ${dataDir}; Ctrl-C stops`);

  let stopping = false;
  const stop = (): void => {
    if (stopping) process.exit(1);
    stopping = true;
    void session.close()
      .then(() => host.close())
      .finally(() => {
        if (temporary) fs.rmSync(dataDir, { recursive: true, force: true });
        process.exit(0);
      });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return undefined;
}
