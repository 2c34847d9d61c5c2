/**
 * `erpmod check [MODULE_DIR...]`: the compliance checker for vendors, CI and operators. Exit 0 when every
 * module passes, 1 when one failed a rule, 2 when the checker could not run (bad usage, an unreadable
 * path, no load-phase child), so CI can tell "your module is wrong" from "the check itself broke".
 */

import path from 'node:path';
import { loadConfig } from '../config/load-config';
import { ErpmodError, messageOf } from '../errors';
import { DEFAULT_LOAD_TIMEOUT_MS, stopRunningLoadChecks } from '../compliance/load/run-load-check';
import { formatGithub } from '../compliance/report/format-github';
import { formatJson } from '../compliance/report/format-json';
import { formatJunit } from '../compliance/report/format-junit';
import { formatText } from '../compliance/report/format-text';
import { styleFor } from '../compliance/report/terminal-style';
import { listModuleDirs, runCheck } from '../compliance/run-check';
import { parseOptions } from './parse-options';

export const CHECK_USAGE = `usage: erpmod check [MODULE_DIR...] [options]

Checks each module directory (default: every module under the configured modules directory) against the
compliance rules (docs/rules.md): the static phase on module.yml and the binary's bytes, then the load
phase in a throw-away child process.

options:
  --format text|json|junit|github   output format (default text)
  --static-only                     skip the load phase (never dlopen anything)
  --all-platforms                   statically check every binary module.yml declares, for any OS
  --strict                          warnings fail the check
  --timeout MS                      load-phase timeout per module (default ${DEFAULT_LOAD_TIMEOUT_MS})
  --modules-dir DIR                 where to look when no MODULE_DIR is given
  --config FILE                     erpmod.config.yml to read the modules directory from

exit codes: 0 all passed, 1 a module failed a rule, 2 the checker could not run
`;

const FORMATS = ['text', 'json', 'junit', 'github'] as const;
type CheckFormat = (typeof FORMATS)[number];
const MAX_TIMEOUT_MS = 600_000;

export async function checkCommand(argv: readonly string[]): Promise<number> {
  try {
    return await check(argv);
  } catch (error) {
    // Anything thrown here means no verdict on the modules: exit 2, never 1.
    const code = error instanceof ErpmodError ? error.code : 'ERPMOD_INTERNAL';
    process.stderr.write(`erpmod: ${code}: ${messageOf(error)}\n`);
    if (error instanceof ErpmodError && error.code === 'ERPMOD_USAGE') process.stderr.write(`\n${CHECK_USAGE}`);
    return 2;
  }
}

async function check(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseOptions(argv, {
    format: { type: 'string' },
    'static-only': { type: 'boolean' },
    'all-platforms': { type: 'boolean' },
    strict: { type: 'boolean' },
    timeout: { type: 'string' },
    'modules-dir': { type: 'string' },
    config: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    process.stdout.write(CHECK_USAGE);
    return 0;
  }
  const format = parseFormat(values.format);
  const timeoutMs = parseTimeout(values.timeout);

  let dirs = positionals;
  if (dirs.length === 0) {
    const overrides = typeof values['modules-dir'] === 'string' ? { modulesDir: values['modules-dir'] } : {};
    const config = loadConfig({ configFile: typeof values.config === 'string' ? values.config : undefined, overrides });
    dirs = listModuleDirs(path.resolve(config.modulesDir));
  }

  // A stopped checker must not leave a child spinning inside a hanging library's dlopen: it exits once they are gone.
  const stop = (signal: NodeJS.Signals): void => {
    void stopRunningLoadChecks().finally(() => process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGHUP' ? 1 : 15)));
  };
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const signal of signals) process.once(signal, stop);
  try {
    const report = await runCheck(dirs, {
      staticOnly: values['static-only'] === true,
      allPlatforms: values['all-platforms'] === true,
      strict: values.strict === true,
      timeoutMs,
    });
    process.stdout.write(render(report, format));
    return report.ok ? 0 : 1;
  } finally {
    for (const signal of signals) process.removeListener(signal, stop);
  }
}

function render(report: Awaited<ReturnType<typeof runCheck>>, format: CheckFormat): string {
  switch (format) {
    case 'text':
      return formatText(report, { style: styleFor(process.stdout) });
    case 'json':
      return formatJson(report);
    case 'junit':
      return formatJunit(report);
    case 'github':
      return formatGithub(report);
  }
}

function parseFormat(value: string | boolean | undefined): CheckFormat {
  if (value === undefined) return 'text';
  if (typeof value === 'string' && (FORMATS as readonly string[]).includes(value)) return value as CheckFormat;
  throw new ErpmodError('ERPMOD_USAGE', `--format: expected one of ${FORMATS.join(', ')}, got "${String(value)}"`);
}

function parseTimeout(value: string | boolean | undefined): number {
  if (value === undefined) return DEFAULT_LOAD_TIMEOUT_MS;
  const ms = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value) || ms < 1 || ms > MAX_TIMEOUT_MS) {
    throw new ErpmodError('ERPMOD_USAGE', `--timeout: expected milliseconds from 1 to ${MAX_TIMEOUT_MS}, got "${String(value)}"`);
  }
  return ms;
}
