/**
 * Contender 4: the erpmod host with sales in `isolation: process` (module.yml and ERPMOD_ISOLATION).
 * Support is detected, never assumed: a host that boots but still runs sales in its own process is
 * reported as "not available yet", so the in-process numbers are never mislabelled.
 */
import { request, type ServerProcess } from '../lib/server-process';
import type { Contender } from './contender';
import { adminOf, assembleModules, startHost } from './erpmod-in-process';

export interface IsolationSupport {
  readonly available: boolean;
  /** What showed it (or why it is considered unavailable). */
  readonly evidence: string;
}

export const erpmodIsolated: Contender = {
  id: 'isolated',
  label: 'erpmod, isolation: process',
  start: (context) =>
    // `info` for the boot line detectIsolation reads; the access log stays off, as in the in-process
    // contender (logging at warn), so the ratio is what isolation costs and nothing else.
    startHost(context, {
      label: 'erpmod isolation: process',
      modulesDir: assembleModules(context, true),
      logLevel: 'info',
      env: { ERPMOD_ISOLATION: 'process', ERPMOD_ACCESS_LOG_LEVEL: 'off' },
    }),
};

/** Looks for proof that sales runs outside the host process: the runtime block, or the boot log. */
export async function detectIsolation(server: ServerProcess): Promise<IsolationSupport> {
  const admin = adminOf(server);
  const reply = await request(`${admin.url}/plugins/sales`, 'GET', undefined, admin.headers);
  if (reply.status !== 200) return { available: false, evidence: `GET /plugins/sales answered ${reply.status}` };
  const plugin = JSON.parse(reply.body) as { status?: string; runtime?: Record<string, unknown> | null };
  if (plugin.status !== 'active') return { available: false, evidence: `sales is ${plugin.status ?? 'unknown'} with isolation: process` };
  const runtime = plugin.runtime ?? {};
  if (runtime.isolation === 'process') return { available: true, evidence: 'GET /plugins/sales → runtime.isolation = "process"' };
  for (const key of ['pid', 'childPid', 'processPid', 'workerPid']) {
    const value = runtime[key];
    if (typeof value === 'number' && value !== server.pid) return { available: true, evidence: `GET /plugins/sales → runtime.${key} = ${value} (host pid ${server.pid})` };
  }
  const said = server.lines.find((line) => /isolat/i.test(line) && /sales/.test(line) && !/not (yet )?(supported|available)|unsupported|ignor/i.test(line));
  if (said !== undefined) return { available: true, evidence: `host log: ${describeLogLine(said)}` };
  return { available: false, evidence: 'the host accepted isolation: process but GET /plugins/sales shows no isolation and the log does not say sales is isolated' };
}

/** A pino JSON line as `"msg" (isolated: true)`, or the raw line cut short. */
function describeLogLine(line: string): string {
  try {
    const entry = JSON.parse(line) as Record<string, unknown>;
    const fields = Object.entries(entry)
      .filter(([key]) => /isolat|pid/i.test(key) && key !== 'pid')
      .map(([key, value]) => `${key}: ${JSON.stringify(value)}`);
    return `"${String(entry.msg)}"${fields.length > 0 ? ` (${fields.join(', ')})` : ''}`;
  } catch {
    return line.slice(0, 160);
  }
}
