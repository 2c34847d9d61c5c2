/**
 * The default `erpmod check` output, for people: per module a header, per binary one line per rule
 * (✔ pass, ✖ fail, ⚠ warning, – skipped), then every finding with the file, what was expected, what was
 * found and the fix; then one summary line.
 */

import { RULE_IDS } from '../rules';
import type { CheckReport, ModuleResult, ReportedViolation, RuleResult, TargetResult } from './check-report';
import { displayPath } from './display-path';
import { plainStyle } from './terminal-style';
import type { Style } from './terminal-style';

export interface FormatTextOptions {
  readonly style?: Style;
  readonly cwd?: string;
}

const RULE_WIDTH = Math.max(...RULE_IDS.map((id) => id.length));
const FORMAT_NAMES = { elf: 'ELF', macho: 'Mach-O', pe: 'PE/COFF' } as const;

export function formatText(report: CheckReport, options: FormatTextOptions = {}): string {
  const style = options.style ?? plainStyle;
  const cwd = options.cwd ?? process.cwd();
  const out: string[] = [];
  for (const module of report.modules) {
    out.push(...formatModule(module, report.options.strict, style, cwd), '');
  }
  out.push(summaryLine(report, style));
  return `${out.join('\n')}\n`;
}

function formatModule(module: ModuleResult, strict: boolean, s: Style, cwd: string): string[] {
  const icon = module.ok ? s.green('✔') : s.red('✖');
  const name = module.code === null ? s.bold('(invalid module.yml)') : `${s.bold(module.code)}${module.version === null ? '' : ` ${module.version}`}`;
  const lines = [`${icon} ${name}  ${s.dim(displayPath(module.dir, cwd))}`];
  for (const target of module.targets) lines.push(...formatTarget(target, strict, s, cwd));
  return lines;
}

function formatTarget(t: TargetResult, strict: boolean, s: Style, cwd: string): string[] {
  const lines = [`  ${s.bold(t.platformKey)}  ${describeBinary(t, cwd)}${s.dim(timings(t))}`];
  const sandbox = t.load.sandbox;
  // Loud on purpose: the library's constructors ran with more rights than the full sandbox gives.
  if (sandbox != null && !sandbox.full) lines.push(`    ${s.yellow('⚠')} ${s.bold('load sandbox weaker than full')} (${sandbox.mechanism}): ${sandbox.note ?? ''}`);
  for (const rule of t.rules) lines.push(`    ${ruleLine(rule, strict, s)}`);
  const findings = t.rules.flatMap((r) => r.violations);
  if (findings.length > 0) lines.push('');
  for (const v of findings) lines.push(...formatViolation(v, strict, s, cwd));
  return lines;
}

function describeBinary(t: TargetResult, cwd: string): string {
  if (t.binaryPath === null) return 'no binary';
  const file = displayPath(t.binaryPath, cwd);
  const b = t.binary;
  if (b === null) return file;
  const kind = `${FORMAT_NAMES[b.format]} ${b.bits}-bit ${b.endian}-endian ${b.arch}${b.sharedLibrary ? ' shared library' : ''}`;
  return `${file} · ${kind}`;
}

function timings(t: TargetResult): string {
  const parts = [`static ${formatMs(t.staticMs)}`];
  if (t.load.ran && t.load.durationMs !== null) {
    parts.push(`load ${formatMs(t.load.durationMs)}${t.load.sandbox == null ? '' : ` in ${t.load.sandbox.mechanism === 'none' ? 'no sandbox' : t.load.sandbox.mechanism}`}`);
  }
  return ` · ${parts.join(' · ')}`;
}

function ruleLine(rule: RuleResult, strict: boolean, s: Style): string {
  const id = rule.id.padEnd(RULE_WIDTH);
  switch (rule.status) {
    case 'pass':
      return `${s.green('✔')} ${id}  ${rule.title}`;
    case 'fail':
      return `${s.red('✖')} ${s.bold(id)}  ${rule.title}${count(rule.violations.length)}`;
    case 'warn':
      return `${strict ? s.red('⚠') : s.yellow('⚠')} ${id}  ${rule.title}${count(rule.violations.length)}${strict ? ' (fails under --strict)' : ''}`;
    case 'skip':
      return s.dim(`– ${id}  ${rule.skipReason ?? 'skipped'}`);
  }
}

function count(n: number): string {
  return n > 1 ? ` (${n} findings)` : '';
}

function formatViolation(v: ReportedViolation, strict: boolean, s: Style, cwd: string): string[] {
  const icon = v.severity === 'error' ? s.red('✖') : strict ? s.red('⚠') : s.yellow('⚠');
  const lines = [`    ${icon} ${s.bold(v.rule)}  ${v.message}`];
  const field = (label: string, value: string | null): void => {
    if (value !== null && value !== '') lines.push(`        ${s.dim(label.padEnd(10))}${value}`);
  };
  field('file', v.file === null ? null : displayPath(v.file, cwd));
  field('expected', v.expected);
  field('found', v.found);
  field('fix', v.fix);
  return lines;
}

function summaryLine(report: CheckReport, s: Style): string {
  const { modules, failed, errors, warnings, durationMs } = report.summary;
  const counts = `${plural(errors, 'error')} · ${plural(warnings, 'warning')} · ${formatMs(durationMs)}`;
  const strictNote = report.options.strict && warnings > 0 ? ' (--strict: warnings fail)' : '';
  if (report.ok) return `${s.green('✔')} ${s.bold(`${plural(modules, 'module')} passed`)} · ${counts}${strictNote}`;
  return `${s.red('✖')} ${s.bold(`${failed} of ${plural(modules, 'module')} failed`)} · ${counts}${strictNote}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function formatMs(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 10) return `${Math.round(ms)} ms`;
  return `${ms.toFixed(1)} ms`;
}
