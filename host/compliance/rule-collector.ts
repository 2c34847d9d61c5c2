/**
 * Collects what each rule found while a check runs: which rules ran, and their violations with the
 * catalogue's fix filled in when a check has no more specific one.
 */

import { RULES, RULE_IDS } from './rules';
import type { RuleId, Severity, Violation } from './types';

export interface ViolationInput {
  readonly message: string;
  readonly expected?: string;
  readonly found?: string;
  readonly fix?: string;
  readonly severity?: Severity;
  readonly file?: string;
}

export class RuleCollector {
  readonly violations: Violation[] = [];
  private readonly ran = new Set<RuleId>();
  private readonly file: string | undefined;

  constructor(file: string | undefined) {
    this.file = file;
  }

  /** Marks a rule as run: it passes unless a violation is recorded for it. */
  run(rule: RuleId): void {
    this.ran.add(rule);
  }

  fail(rule: RuleId, v: ViolationInput): void {
    this.ran.add(rule);
    const file = v.file ?? this.file;
    this.violations.push({
      rule,
      severity: v.severity ?? RULES[rule].severity,
      message: v.message,
      ...(v.expected === undefined ? {} : { expected: v.expected }),
      ...(v.found === undefined ? {} : { found: v.found }),
      fix: v.fix ?? RULES[rule].fix,
      ...(file === undefined ? {} : { file }),
    });
  }

  /** Rules that ran without any violation, in catalogue order. */
  passed(): RuleId[] {
    const failed = new Set(this.violations.map((v) => v.rule));
    return RULE_IDS.filter((id) => this.ran.has(id) && !failed.has(id));
  }

  ok(): boolean {
    return this.violations.every((v) => v.severity !== 'error');
  }
}
