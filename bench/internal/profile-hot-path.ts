/**
 * Where the time goes: `node --cpu-prof` on a server under load on the sales summary route, summarised
 * from the .cpuprofile it writes at exit, counting only samples taken while the load ran (not boot).
 * Both the erpmod host and the raw node:http ceiling are profiled, so their shares can be set side by side.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Contender } from '../contenders/contender';
import { SUMMARY_PATH } from '../contenders/contender';
import { summariseCpuProfile, type ProfileSummary } from '../lib/cpu-profile';
import { runLoad } from '../lib/load-generator';
import { freePort } from '../lib/server-process';

/** Functions whose inclusive share is reported: the dispatcher's steps and what they call. */
export const HOT_PATH_FUNCTIONS: readonly RegExp[] = [
  /^(handle|dispatch|serve|handleUnmatched|fail)@dist\/host\/http\/module-dispatcher/,
  /@dist\/host\/http\/(write-module-reply|read-body|request-id|send-error)/,
  /^(record|snapshot)@dist\/host\/runtime/,
  /@dist\/host\/loader\/module-db-facade/,
  /^find@node_modules\/find-my-way/,
  /^(writeHead|end|_implicitHeader|_storeHeader)@node:_http/,
  /^parserOnIncoming@node:_http_server/,
  /^(call|send)@dist\/bench\/contenders\/raw-http/,
  /^\(garbage collector\)@$/,
];

export interface ProfileOptions {
  readonly seconds: number;
  readonly connections: number;
  readonly workDir: string;
  readonly pingModuleDir: string;
  /** The route under load; the sales summary unless given. */
  readonly path?: string;
  /** How many functions and files to list (20 unless given). */
  readonly top?: number;
}

export interface ProfileRun {
  readonly summary: ProfileSummary;
  readonly requestsPerSecond: number;
  /** The .cpuprofile, and the part of it taken under load (ms after it started), for further reading. */
  readonly file: string;
  readonly window: { readonly from: number; readonly to: number };
}

export async function profileUnderLoad(contender: Contender, options: ProfileOptions, log: (line: string) => void): Promise<ProfileRun> {
  const dir = path.join(options.workDir, `cpu-profile-${contender.id}`);
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const server = await contender.start({
    dataDir: path.join(options.workDir, `profile-data-${contender.id}`),
    port: await freePort(),
    pingModuleDir: options.pingModuleDir,
    nodeFlags: ['--cpu-prof', '--cpu-prof-dir', dir, '--cpu-prof-interval', '250'],
  });
  let requestsPerSecond = Number.NaN;
  let window: { from: number; to: number };
  const url = `${server.url}${options.path ?? SUMMARY_PATH}`;
  try {
    await runLoad({ url, seconds: 1, connections: options.connections, workDir: options.workDir });
    const from = performance.now() - server.spawnedAt;
    const result = await runLoad({ url, seconds: options.seconds, connections: options.connections, workDir: options.workDir });
    // The profile starts a little after the spawn: trim the edges rather than count boot or shutdown.
    window = { from: from + 100, to: performance.now() - server.spawnedAt - 300 };
    requestsPerSecond = result.requestsPerSecond;
    log(`    profiled ${contender.id}: ${Math.round(requestsPerSecond)} req/s under --cpu-prof`);
  } finally {
    await server.stop();
  }
  const file = fs.readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
  if (file === undefined) throw new Error(`${contender.id} wrote no .cpuprofile (did it exit cleanly on SIGTERM?)`);
  const profile = path.join(dir, file);
  return { summary: summariseCpuProfile(profile, HOT_PATH_FUNCTIONS, options.top ?? 20, window), requestsPerSecond, file: profile, window };
}
