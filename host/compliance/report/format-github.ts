/**
 * `--format github`: GitHub Actions workflow commands, so each finding shows as an annotation on the
 * file it is about (`::error file=…,title=rule::message`). Warnings are `::warning` unless --strict makes
 * them fail. Ends with one plain summary line for the log.
 */

import type { CheckReport, ReportedViolation } from './check-report';
import { displayPath } from './display-path';

export interface FormatGithubOptions {
  /** Paths are made relative to this (the workspace), which is what GitHub resolves `file=` against. */
  readonly cwd?: string;
}

export function formatGithub(report: CheckReport, options: FormatGithubOptions = {}): string {
  const cwd = options.cwd ?? process.cwd();
  const lines: string[] = [];
  for (const m of report.modules) {
    const name = m.code ?? displayPath(m.dir, cwd);
    for (const t of m.targets) {
      for (const rule of t.rules) {
        for (const v of rule.violations) lines.push(annotation(v, `${name} (${t.platformKey})`, report.options.strict, cwd));
      }
    }
  }
  const notes = new Set(report.modules.flatMap((m) => m.targets.flatMap((t) => (t.load.sandbox != null && !t.load.sandbox.full ? [`${t.load.sandbox.mechanism}: ${t.load.sandbox.note ?? ''}`] : []))));
  for (const note of notes) lines.push(`::warning ${`title=${property('erpmod check · load sandbox weaker than full')}`}::${data(note)}`);
  const { modules, failed, errors, warnings } = report.summary;
  const counts = `(${plural(errors, 'error')}, ${plural(warnings, 'warning')})`;
  lines.push(report.ok
    ? `erpmod check: ${plural(modules, 'module')} passed ${counts}`
    : `erpmod check: ${failed} of ${plural(modules, 'module')} failed ${counts}`);
  return `${lines.join('\n')}\n`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function annotation(v: ReportedViolation, where: string, strict: boolean, cwd: string): string {
  const command = v.severity === 'error' || strict ? 'error' : 'warning';
  const props = [...(v.file === null ? [] : [`file=${property(displayPath(v.file, cwd))}`]), `title=${property(`${v.rule} · ${where}`)}`];
  const details = [
    v.message,
    ...(v.expected === null ? [] : [`expected: ${v.expected}`]),
    ...(v.found === null ? [] : [`found: ${v.found}`]),
    ...(v.fix === null ? [] : [`fix: ${v.fix}`]),
  ];
  return `::${command} ${props.join(',')}::${data(details.join('\n'))}`;
}

/** Workflow-command escaping (actions/toolkit `escapeData`). */
function data(s: string): string {
  return s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** Property values also escape the separators `:` and `,` (actions/toolkit `escapeProperty`). */
function property(s: string): string {
  return data(s).replace(/:/g, '%3A').replace(/,/g, '%2C');
}
