/**
 * Contender 3: the erpmod host (`erpmod serve`) with the example modules loaded in-process; module
 * routes go through host/http/module-dispatcher.ts.
 */
import fs from 'node:fs';
import path from 'node:path';
import { HOST_NODE_FLAGS } from '../../host/runtime/node-flags';
import { HOST_CLI, MODULES_DIR } from '../lib/paths';
import { freePort, startServerProcess, type ServerProcess } from '../lib/server-process';
import type { Contender, ContenderContext } from './contender';

export interface HostStartOptions {
  readonly label: string;
  readonly modulesDir: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly logLevel?: 'info' | 'warn';
  readonly readyTimeoutMs?: number;
  readonly discardOutput?: boolean;
  /** The host's CLI to start; this checkout's build unless given. */
  readonly cli?: string;
}

/** The admin token of every benchmarked host: operator routes are on their own listener and need one. */
export const BENCH_ADMIN_TOKEN = 'bench-admin-token';
const adminUrls = new WeakMap<ServerProcess, string>();

/** The admin listener of a host started here, and the header its operator routes need. */
export function adminOf(server: ServerProcess): { url: string; headers: Record<string, string> } {
  const url = adminUrls.get(server);
  if (url === undefined) throw new Error(`${server.label} was not started as an erpmod host`);
  return { url, headers: { authorization: `Bearer ${BENCH_ADMIN_TOKEN}` } };
}

/** `node dist/host/cli/erpmod.js serve` on loopback, one worker, ready when /readyz answers 200. */
export async function startHost(context: Pick<ContenderContext, 'dataDir' | 'port' | 'nodeFlags'>, options: HostStartOptions): Promise<ServerProcess> {
  const adminPort = await freePort();
  const server = await startServerProcess({
    label: options.label,
    args: [options.cli ?? HOST_CLI, 'serve'],
    env: {
      ...process.env,
      ...options.env,
      ERPMOD_PORT: String(context.port),
      ERPMOD_HOST: '127.0.0.1',
      ERPMOD_ADMIN_PORT: String(adminPort),
      ERPMOD_ADMIN_TOKEN: BENCH_ADMIN_TOKEN,
      ERPMOD_MODULES_DIR: options.modulesDir,
      ERPMOD_DATA_DIR: context.dataDir,
      ERPMOD_LOG_LEVEL: options.logLevel ?? 'warn',
      ERPMOD_WORKERS: '1',
    },
    port: context.port,
    readyPath: '/readyz',
    ...(options.readyTimeoutMs === undefined ? {} : { readyTimeoutMs: options.readyTimeoutMs }),
    ...(options.discardOutput === undefined ? {} : { discardOutput: options.discardOutput }),
    // Started as `npm start` and the erpmod command start it (host/runtime/node-flags.ts says why).
    nodeFlags: [...HOST_NODE_FLAGS, ...(context.nodeFlags ?? [])],
  });
  adminUrls.set(server, `http://127.0.0.1:${adminPort}`);
  return server;
}

export const erpmodInProcess: Contender = {
  id: 'erpmod',
  label: 'erpmod, in-process',
  start: (context) => startHost(context, { label: 'erpmod in-process', modulesDir: assembleModules(context, false) }),
};

/**
 * A modules directory for one contender: copies of modules/inventory and modules/sales (manifest,
 * migrations, the built libraries) plus the b0001 fixture copy; sales marked `isolation: process` on request.
 */
export function assembleModules(context: ContenderContext, isolateSales: boolean): string {
  const target = path.join(context.dataDir, 'modules-src');
  for (const code of ['inventory', 'sales']) {
    const to = path.join(target, code);
    fs.mkdirSync(to, { recursive: true });
    for (const entry of ['module.yml', 'migrations', 'lib']) fs.cpSync(path.join(MODULES_DIR, code, entry), path.join(to, entry), { recursive: true });
  }
  fs.cpSync(context.pingModuleDir, path.join(target, path.basename(context.pingModuleDir)), { recursive: true });
  if (isolateSales) {
    const manifest = path.join(target, 'sales', 'module.yml');
    const text = fs.readFileSync(manifest, 'utf8').replace(/^isolation:.*\n/m, '');
    fs.writeFileSync(manifest, `${text.trimEnd()}\nisolation: process\n`);
  }
  return target;
}
