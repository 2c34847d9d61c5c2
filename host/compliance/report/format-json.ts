import type { CheckReport } from './check-report';

/** `--format json`: the report as is; docs/schemas/check-report.schema.json describes it. */
export function formatJson(report: CheckReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
