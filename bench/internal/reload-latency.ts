/**
 * `POST /plugins/:code/reload` from request to reply, one after another on an idle host, with the
 * host's own `loadMs` (check + copy + dlopen + initialize) from each reply.
 */
import { request } from '../lib/server-process';
import { median, percentile } from '../lib/stats';

export interface ReloadFigures {
  readonly code: string;
  readonly count: number;
  readonly wallMedianMs: number;
  readonly wallP90Ms: number;
  readonly loadMsMedian: number;
  readonly loadMsP90: number;
  readonly failures: number;
}

/** `adminUrl`: the host's admin listener; `headers` carry its admin token. */
export async function measureReload(adminUrl: string, headers: Record<string, string>, code: string, count: number): Promise<ReloadFigures> {
  const wall: number[] = [];
  const load: number[] = [];
  let failures = 0;
  for (let i = 0; i < count; i++) {
    const started = performance.now();
    const reply = await request(`${adminUrl}/plugins/${code}/reload`, 'POST', undefined, headers);
    const elapsed = performance.now() - started;
    if (reply.status !== 200) {
      failures++;
      continue;
    }
    wall.push(elapsed);
    const loadMs = (JSON.parse(reply.body) as { loadMs?: unknown }).loadMs;
    if (typeof loadMs === 'number') load.push(loadMs);
  }
  return {
    code,
    count,
    wallMedianMs: median(wall),
    wallP90Ms: percentile(wall, 90),
    loadMsMedian: median(load),
    loadMsP90: percentile(load, 90),
    failures,
  };
}
