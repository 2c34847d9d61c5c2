/**
 * `erpmod install <pack>`: verify, check and install a pack into the host's modules directory, all or
 * nothing; `--reload` then asks the running host to load the new build. Exit 0 installed (and
 * reloaded), 1 refused (nothing changed), 2 usage, 3 installed but the host did not reload it.
 */

import fs from 'node:fs';
import path from 'node:path';
import { ADMIN_TOKEN_FILE, checkAdminToken, readTokenFile } from '../config/admin-token';
import { loadConfig, type HostConfig } from '../config/load-config';
import { ErpmodError, messageOf } from '../errors';
import { listenerUrl } from '../http/listener-url';
import { installPack } from '../packaging/install-pack';
import { requestReload } from '../packaging/request-reload';
import { positionalArgs, runVendorCommand, stringOption } from '../packaging/run-vendor-command';
import { trustPolicyOf } from '../packaging/trust-policy';
import { parseOptions } from './parse-options';

export const EXIT_NOT_RELOADED = 3;

export const INSTALL_USAGE = `usage: erpmod install <pack> [options]

Installs a pack made by erpmod pack into the host's modules directory:
  1. checks every packed binary against its pinned sha256, and the signature against the host's
     trusted_keys: when any are listed the pack must be signed by one of them (as with
     require_signature), and is refused before any of its code runs;
  2. runs the compliance check on the unpacked module: the static phase, then the load phase for this
     machine's binary in a sandboxed throw-away child process;
  3. moves it into <modules>/<code>/ with a rename (a module already there is replaced, and put back
     if the move fails).
Any refusal leaves the modules directory as it was. The host's configuration (erpmod.config.yml,
ERPMOD_* variables) gives the modules directory and the trust settings.

options:
  --modules-dir DIR    install here instead of the configured modules directory
  --config FILE        the host's erpmod.config.yml
  --reload             then ask the running host to reload the module (POST /plugins/<code>/reload on
                       its admin listener); a module new to the host is found and loaded by it too
  --admin-url URL      the host's admin listener (default http://<admin_host>:<admin_port>, 127.0.0.1:3001)
  --host-url URL       the old name of --admin-url
  --admin-token TOKEN  the admin token (default: admin_token / ERPMOD_ADMIN_TOKEN, else the admin-token
                       file in the data directory)
  --data-dir DIR       the host's data directory, where its admin-token file is (default: data_dir)
  --static-only        skip the load phase of the compliance check
  --timeout MS         load-phase timeout (default 10000)

exit codes: 0 installed (and reloaded), 1 refused, 2 usage, 3 installed but not reloaded
`;

export function installCommand(argv: readonly string[]): Promise<number> {
  return runVendorCommand(INSTALL_USAGE, argv, async () => {
    const { values, positionals } = parseOptions(argv, {
      'modules-dir': { type: 'string' },
      config: { type: 'string' },
      reload: { type: 'boolean' },
      'host-url': { type: 'string' },
      'admin-url': { type: 'string' },
      'data-dir': { type: 'string' },
      'admin-token': { type: 'string' },
      'static-only': { type: 'boolean' },
      timeout: { type: 'string' },
    });
    const [file] = positionalArgs(positionals, 1, 1, 'one pack file');
    const timeout = stringOption(values.timeout);
    if (timeout !== undefined && (!/^\d+$/.test(timeout) || Number(timeout) < 1 || Number(timeout) > 600_000)) {
      throw new ErpmodError('ERPMOD_USAGE', `--timeout: expected milliseconds from 1 to 600000, got "${timeout}"`);
    }
    const urlFlag = values['admin-url'] !== undefined ? '--admin-url' : '--host-url';
    const adminUrl = stringOption(values['admin-url']) ?? stringOption(values['host-url']);
    if (adminUrl !== undefined && !/^https?:\/\/[^\s/]+/.test(adminUrl)) {
      throw new ErpmodError('ERPMOD_USAGE', `${urlFlag}: expected http://host:port, got "${adminUrl}"`);
    }
    const flagToken = stringOption(values['admin-token']);
    if (flagToken !== undefined) checkUsage(() => checkAdminToken(flagToken, '--admin-token'));
    const modulesDir = stringOption(values['modules-dir']);
    const dataDir = stringOption(values['data-dir']);
    const config = loadConfig({ configFile: stringOption(values.config), overrides: { modulesDir, dataDir } });

    const result = await installPack(file!, {
      modulesDir: config.modulesDir,
      trust: trustPolicyOf(config),
      staticOnly: values['static-only'] === true,
      timeoutMs: timeout === undefined ? undefined : Number(timeout),
      packLimits: { maxBytes: config.packMaxBytes, maxFileBytes: config.packMaxFileBytes },
    });
    const checked = result.check.modules[0]?.targets[0];
    const phases = checked?.load.ran === true ? 'static and load phases' : `static phase (load phase ${checked?.load.skipReason ?? 'skipped'})`;
    const signature = result.findings.find((f) => f.rule === 'binary/signature');
    const lines = [
      `verified ${file}: ${result.findings.filter((f) => f.rule === 'binary/sha256' && f.status === 'pass').length} binary digest(s); ${signature?.message ?? 'unsigned'}`,
      ...result.findings.filter((f) => f.status === 'warn').map((f) => `warning: ${f.rule}: ${f.message}`),
      `compliance: ${phases} passed`,
      `installed ${result.code} ${result.version} -> ${path.relative(process.cwd(), result.moduleDir) || result.moduleDir}${
        result.replaced === undefined ? '' : ` (replaced ${result.replaced})`}`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (values.reload !== true) return 0;

    try {
      const answer = await requestReload({
        hostUrl: adminUrl ?? listenerUrl(config.adminHost, config.adminPort),
        code: result.code,
        adminToken: flagToken ?? config.adminToken ?? tokenFromDataDir(config),
      });
      (answer.ok ? process.stdout : process.stderr).write(`${answer.ok ? '' : 'erpmod: '}${answer.summary}\n`);
      return answer.ok ? 0 : EXIT_NOT_RELOADED;
    } catch (error) {
      const code = error instanceof ErpmodError ? error.code : 'ERPMOD_INTERNAL';
      process.stderr.write(`erpmod: ${code}: ${messageOf(error)} (the module is installed; the host did not reload it)\n`);
      return EXIT_NOT_RELOADED;
    }
  });
}

/** The token the host made at its first start, when this user may read it; undefined when there is none. */
function tokenFromDataDir(config: HostConfig): string | undefined {
  const file = path.join(config.dataDir, ADMIN_TOKEN_FILE);
  return fs.existsSync(file) ? readTokenFile(file) : undefined;
}

function checkUsage(check: () => void): void {
  try {
    check();
  } catch (error) {
    throw new ErpmodError('ERPMOD_USAGE', messageOf(error), { cause: error });
  }
}
