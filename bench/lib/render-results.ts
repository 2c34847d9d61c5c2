/** The results of a run as markdown: machine, targets with PASS/MISS, then each table. */
import type { ComplianceFigures } from '../internal/compliance-check';
import { renderOrdersOnPostgres, type OrdersOnPostgres } from '../internal/orders-postgres';
import { renderPoolFigures, type PoolFigures } from '../internal/execution-pool';
import type { PartFigure } from '../internal/dispatcher-parts';
import type { AccessLogCost } from '../internal/access-log-cost';
import type { ReloadFigures } from '../internal/reload-latency';
import type { ScaleResults } from '../internal/scale-modules';
import type { TargetResults } from './alternate-rounds';
import type { ProfileRun } from '../internal/profile-hot-path';
import type { ProfileSummary } from './cpu-profile';
import type { MachineInfo } from './machine-info';
import { formatMiB, formatMs, formatNumber, formatRatio, median, spread } from './stats';
import { table } from './write-report';

export interface ContenderRow {
  readonly id: string;
  readonly label: string;
  readonly results: TargetResults | undefined;
  readonly rssBytes: number;
  readonly peakRssBytes: number;
  /** Why there are no results (e.g. "not available yet: ..."). */
  readonly note?: string;
}

export interface TargetCheck {
  readonly name: string;
  readonly goal: string;
  readonly measured: string;
  readonly verdict: 'PASS' | 'MISS' | 'n/a';
}

export interface BenchResults {
  readonly quick: boolean;
  readonly machine: MachineInfo;
  readonly tool: string;
  readonly pinned: boolean;
  readonly plan: { rounds: number; seconds: number; warmupSeconds: number; connections: number };
  readonly get: ContenderRow[];
  readonly getRatios: { label: string; value: number }[];
  readonly light: ContenderRow[];
  readonly lightRatios: { label: string; value: number; rounds?: readonly number[] }[];
  /** Raw / erpmod server CPU time per request on the light route, every paired round (both loaded at once). */
  readonly lightPaired: readonly number[];
  readonly fixedLoad: { offeredPerSecond: number; rows: ContenderRow[]; p99Ratio: number; p50Ratio: number } | { skipped: string };
  readonly post: { rows: ContenderRow[]; ratio: number } | { skipped: string };
  readonly pool: PoolFigures | { skipped: string };
  readonly isolation: { available: boolean; evidence: string };
  readonly scale: ScaleResults | { skipped: string };
  readonly reload: ReloadFigures | { skipped: string };
  readonly accessLog: AccessLogCost | { skipped: string };
  readonly compliance: ComplianceFigures | { skipped: string };
  /** Sales orders on PostgreSQL vs SQLite vs Fastify + pg; absent when PostgreSQL is not installed. */
  readonly orders?: OrdersOnPostgres | { skipped: string };
  readonly profile: { erpmod: ProfileRun; raw: ProfileRun } | { skipped: string };
  readonly parts: PartFigure[];
  readonly targets: TargetCheck[];
  readonly totalSeconds: number;
}

export function renderResults(r: BenchResults): string {
  const out: string[] = [];
  out.push(`## Results${r.quick ? ' (quick smoke run: one short round, fewer modules — not for decisions)' : ''}`, '');
  out.push(
    table(['machine', ''], [
      ['CPU', `${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.memoryGiB} GiB`],
      ['Node', r.machine.node],
      ['OS', r.machine.os],
      ['date', r.machine.date],
      ['commit', r.machine.commit],
      ['load average (1 min, start → end)', `${r.machine.loadAverage.start.toFixed(1)} → ${r.machine.loadAverage.end.toFixed(1)} on ${r.machine.cores} cores`],
      ['load generator', `${r.tool}, 1 thread, ${r.plan.connections} keep-alive connections, separate process`],
      ['pinning', r.pinned ? 'server on core 0, load generator on core 1 (taskset)' : 'none (taskset unavailable or one core): numbers are noisier'],
      ['rounds', `${r.plan.rounds} × ${r.plan.seconds} s per contender, alternated (order rotates each round), after a ${r.plan.warmupSeconds} s warm-up each; medians; ratios taken within a round`],
      ['run time', `${Math.round(r.totalSeconds)} s`],
    ], ['l', 'l']),
    '',
  );

  out.push('### Targets', '', table(['target', 'goal', 'measured', 'verdict'], r.targets.map((t) => [t.name, t.goal, t.measured, `**${t.verdict}**`]), ['l', 'l', 'l', 'l']), '');

  out.push(`### GET ${'`/api/v1/sales/summary`'}: the same native function behind each contender`, '');
  const raw = r.get.find((row) => row.id === 'raw')?.results;
  out.push(contenderTable(r.get, raw), '');
  out.push(r.getRatios.map((ratio) => `- ${ratio.label}: **${formatRatio(ratio.value)}**`).join('\n'), '');
  out.push('### GET `/api/v1/b0001/ping`: a light route (plain-C fixture, no SQL), the HTTP layer exposed', '');
  out.push(contenderTable(r.light, r.light.find((row) => row.id === 'raw')?.results), '');
  out.push(r.lightRatios.map((ratio) => `- ${ratio.label}: **${formatRatio(ratio.value)}**${ratio.rounds === undefined || ratio.rounds.length === 0 ? '' : ` (every round: ${ratio.rounds.map(formatRatio).join(', ')}; min ${formatRatio(Math.min(...ratio.rounds))}, max ${formatRatio(Math.max(...ratio.rounds))})`}`).join('\n'), '');
  if (r.lightPaired.length > 0) {
    const s = spread(r.lightPaired);
    out.push(
      `- raw node:http / erpmod in-process, server CPU time per request, **paired rounds** (both loaded at the same moment, their CPU taken over the same window — the figure the target is checked against): **${formatRatio(s.median)}** (every round: ${r.lightPaired.map(formatRatio).join(', ')}; quartiles ${formatRatio(s.p25)}–${formatRatio(s.p75)}, min ${formatRatio(s.min)}, max ${formatRatio(s.max)})`,
      '',
    );
  }
  out.push(`Isolation (\`isolation: process\`): ${r.isolation.available ? 'available' : '**not available yet**'} — ${r.isolation.evidence}.`, '');

  out.push(...renderPoolFigures(r.pool, formatRatio));

  out.push('### Latency at the same offered load', '');
  if ('skipped' in r.fixedLoad) out.push(`Skipped: ${r.fixedLoad.skipped}`, '');
  else {
    out.push(
      `Each connection waits after every reply so the offered load is ≈ ${formatNumber(r.fixedLoad.offeredPerSecond)} req/s (half of erpmod's saturated rate) for both; latency then measures the path, not the queue.`,
      '',
      contenderTable(r.fixedLoad.rows, r.fixedLoad.rows[0]?.results, false),
      '',
      `- p50 erpmod / raw: **${formatRatio(r.fixedLoad.p50Ratio)}**, p99 erpmod / raw: **${formatRatio(r.fixedLoad.p99Ratio)}**`,
      '',
    );
  }

  out.push(`### POST ${'`/api/v1/inventory/items`'}: a write to SQLite through \`ctx.db\` (unique SKU per request)`, '');
  if ('skipped' in r.post) out.push(`Skipped: ${r.post.skipped}`, '');
  else out.push(contenderTable(r.post.rows, r.post.rows[0]?.results), '', `- erpmod / raw: **${formatRatio(r.post.ratio)}**`, '');

  if (r.orders !== undefined) {
    out.push(`### POST ${'`/api/v1/sales/orders`'} on PostgreSQL: erpmod vs Fastify + pg running the same SQL`, '');
    if ('skipped' in r.orders) out.push(`Skipped: ${r.orders.skipped}`, '');
    else out.push(...renderOrdersOnPostgres(r.orders), '');
  }

  out.push('### Scale: boot, memory and dispatch with many modules', '');
  const scale = r.scale;
  if ('skipped' in scale) out.push(`Skipped: ${scale.skipped}`, '');
  else {
    out.push(
      'Generated copies of the plain-C fixture module (4 routes each, no migrations), each compiled with its own code. `bootMs` is the host\'s own figure from its listening line; cold = empty data directory (creates every module database), warm = restart.',
      '',
      table(
        ['modules', 'active', 'cold bootMs', 'warm bootMs', 'spawn → ready', 'RSS after boot', 'loadMs per module (median / p90)'],
        scale.boots.map((b) => [String(b.modules), String(b.active), formatMs(b.coldBootMs), formatMs(b.warmBootMs), formatMs(b.wallMs), formatMiB(b.rssBytes), `${formatMs(b.loadMsMedian)} / ${formatMs(b.loadMsP90)}`]),
      ),
      '',
      `GET \`/api/v1/b0001/ping\` with N modules × 4 routes registered (alternated rounds, fresh hosts for every round; ratios within a round, medians):`,
      '',
      table(
        ['modules registered', 'req/s', 'p50', 'p99', 'req/s vs 1 module', 'p99 vs 1 module', 'server CPU per request vs 1 module (paired rounds)'],
        scale.throughputCounts.map((count) => {
          const t = scale.throughput.get(`${count} modules`);
          const ratio = scale.ratios.get(count);
          return [String(count), formatNumber(t?.requestsPerSecond ?? Number.NaN), formatMs(t?.p50Ms ?? Number.NaN), formatMs(t?.p99Ms ?? Number.NaN), formatRatio(ratio?.rps ?? Number.NaN), formatRatio(ratio?.p99 ?? Number.NaN), formatRatio(median(scale.pairedCpu.get(count) ?? []))];
        }),
      ),
      '',
      'Paired rounds: every count\'s host loaded at the same moment, a fresh set of hosts each round, each one\'s CPU per request taken over the same window (the figure the target is judged by; req/s and latency above come from alternated rounds, one host at a time). Every round:',
      '',
      ...scale.throughputCounts.slice(1).map((count) => `- ${count} modules: ${(scale.pairedCpu.get(count) ?? []).map(formatRatio).join(', ')}`),
      '',
    );
  }

  out.push('### The access log: on (`access_log_level: info`) vs off, in one run', '');
  if ('skipped' in r.accessLog) out.push(`Skipped: ${r.accessLog.skipped}`, '');
  else {
    out.push(
      table(['route', 'server CPU per request, on / off', 'ratio', 'req/s on / off', 'ratio', "the log's own code, profiled"], [r.accessLog.light, r.accessLog.sql].map((c) => [
        `GET \`${c.route}\``,
        `${c.on.cpuUsPerRequest.toFixed(1)} µs / ${c.off.cpuUsPerRequest.toFixed(1)} µs`,
        `**${formatRatio(c.cpuRatio)}**`,
        `${Math.round(c.on.rps)} / ${Math.round(c.off.rps)}`,
        formatRatio(c.rpsRatio),
        `${c.profiledPercent.toFixed(1)} % of CPU`,
      ]), ['l', 'r', 'r', 'r', 'r', 'r']),
      '',
      'Both hosts log at info into a pipe the bench reads. CPU per request is the figure to read: the throughput of two hosts sharing one pinned core moves with what else the machine runs.',
      '',
      "The last column is the log's direct cost: the share of the busy CPU of a host with the log on (profiled alone under load) whose stack passes through host/logging/ — the encoding, the batch and the write. The ratio also carries what the log does to the rest of the request, and two processes' luck (about ±3 % a pair).",
      '',
    );
  }

  out.push('### Reload and compliance checks', '');
  if ('skipped' in r.reload) out.push(`Reload skipped: ${r.reload.skipped}`, '');
  else {
    out.push(
      table(['reload', 'count', 'request → reply (median / p90)', 'loadMs in the reply (median / p90)', 'failures'], [
        [`POST /plugins/${r.reload.code}/reload`, String(r.reload.count), `${formatMs(r.reload.wallMedianMs)} / ${formatMs(r.reload.wallP90Ms)}`, `${formatMs(r.reload.loadMsMedian)} / ${formatMs(r.reload.loadMsP90)}`, String(r.reload.failures)],
      ]),
      '',
    );
  }
  if ('skipped' in r.compliance) out.push(`Compliance skipped: ${r.compliance.skipped}`, '');
  else {
    out.push(
      table(['static check (checkStaticFile)', 'binary size', 'median', 'p90', 'passes'], r.compliance.staticChecks.map((c) => [c.module, `${formatNumber(c.binaryBytes / 1024)} KiB`, formatMs(c.medianMs), formatMs(c.p90Ms), c.ok ? 'yes' : 'no'])),
      '',
    );
    const load = r.compliance.loadPhase;
    if ('skipped' in load) out.push(`Load phase (\`erpmod check\`): skipped — ${load.skipped}.`, '');
    else {
      out.push(
        table(['erpmod check', 'staticMs (CLI)', 'load phase (child)', 'CLI wall', 'CLI wall --static-only'], load.map((l) => [l.module, formatMs(l.staticMs), formatMs(l.loadMs), formatMs(l.cliWallMs), formatMs(l.cliStaticOnlyWallMs)])),
        '',
      );
    }
  }

  out.push('### CPU profile of the erpmod hot path', '');
  if ('skipped' in r.profile) out.push(`Skipped: ${r.profile.skipped}`, '');
  else {
    const p = r.profile.erpmod.summary;
    const raw = r.profile.raw.summary;
    out.push(
      `\`node --cpu-prof\` (250 µs interval) on the host serving GET /api/v1/sales/summary under load, samples from the loaded window only (${formatNumber(r.profile.erpmod.requestsPerSecond)} req/s while profiled; ${formatNumber(p.busySamples)} busy samples, ${p.idlePercent.toFixed(1)}% idle). Percentages are of busy time. Native code without a JS frame of its own (the module's C++ handler, better-sqlite3) is counted in the JS function that called it.`,
      '',
      table(['top self time (erpmod)', 'where', '%'], p.topFunctions.map((e) => [`\`${e.name}\``, e.location, e.percent.toFixed(1)])),
      '',
      sideBySide(p, raw, r.profile.raw.requestsPerSecond),
      '',
      table(['inclusive time (function and its callees)', 'where', '%'], p.inclusive.map((e) => [`\`${e.name}\``, e.location, e.percent.toFixed(1)])),
      '',
    );
  }
  out.push(
    '### Hot-path steps in isolation',
    '',
    'Each step of host/http/ timed alone in one process (median of 5 batches; the reply is written to a stub, so no socket work is counted).',
    '',
    table(['step', 'ns per call'], r.parts.map((part) => [part.step, formatNumber(part.nsPerCall)])),
    '',
  );
  return out.join('\n');
}

function contenderTable(rows: readonly ContenderRow[], base: TargetResults | undefined, withRss = true): string {
  const ratio = (a: number, b: number | undefined): string => (b === undefined ? 'n/a' : formatRatio(a / b));
  return table(
    ['contender', 'req/s', 'vs first', 'p50', 'p99', 'p99 vs first', ...(withRss ? ['RSS after load', 'peak RSS'] : [])],
    rows.map((row) => {
      const t = row.results;
      if (t === undefined) return [row.label, row.note ?? 'n/a', '', '', '', '', ...(withRss ? ['', ''] : [])];
      return [
        row.label,
        formatNumber(t.requestsPerSecond),
        ratio(t.requestsPerSecond, base?.requestsPerSecond),
        formatMs(t.p50Ms),
        formatMs(t.p99Ms),
        ratio(t.p99Ms, base?.p99Ms),
        ...(withRss ? [formatMiB(row.rssBytes), formatMiB(row.peakRssBytes)] : []),
      ];
    }),
  );
}

function sideBySide(erpmod: ProfileSummary, raw: ProfileSummary, rawRps: number): string {
  const files = [...new Set([...erpmod.byFile.map((e) => e.name), ...raw.byFile.slice(0, 10).map((e) => e.name)])];
  const share = (summary: ProfileSummary, name: string): string => {
    const found = summary.byFile.find((e) => e.name === name);
    return found === undefined ? '–' : found.percent.toFixed(1);
  };
  return table(
    ['self time by file', 'erpmod %', `raw node:http % (${formatNumber(rawRps)} req/s profiled)`],
    files.map((name) => [name, share(erpmod, name), share(raw, name)]),
  );
}
