/** The table check-node-majors prints: one row per runtime and module. */
import type { RuntimeRun } from './run-on-runtime';

const HEADER = ['node', 'napi', 'abi', 'from', 'sqlite', 'module', 'load ms', 'init ms', 'requests (status)', 'run ms'];

export function formatResultsTable(runs: readonly RuntimeRun[]): string {
  const rows: string[][] = [];
  for (const run of runs) {
    const report = run.report;
    const runtimeCells = [
      report?.node ?? run.runtime.version,
      report?.napi ?? '?',
      report?.abi ?? '?',
      run.runtime.source,
    ];
    if (report === undefined || report.modules.length === 0) {
      const what = run.signal !== null ? `crashed: ${run.signal}` : run.error ?? report?.error ?? `exit code ${run.exitCode}, no report`;
      rows.push([...runtimeCells, '-', '-', '-', '-', what, String(run.runMs)]);
      continue;
    }
    for (const module of report.modules) {
      const requests = module.requests.map((request) => {
        const target = request.module === module.code ? '' : `${request.module} `;
        return `${target}${request.method} ${request.path} ${request.status ?? '-'}${request.ok ? '' : ' FAIL'}`;
      });
      if (!module.ok && module.requests.every((request) => request.ok)) requests.push(`FAIL at ${module.stage ?? '?'}`);
      rows.push([
        ...runtimeCells,
        module.sqlite ?? '-',
        module.code,
        module.load_ms === undefined ? '-' : module.load_ms.toFixed(2),
        module.init_ms === undefined ? '-' : module.init_ms.toFixed(2),
        requests.join(', '),
        String(run.runMs),
      ]);
    }
  }
  const widths = HEADER.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd();
  return [line(HEADER), ...rows.map(line)].join('\n');
}
