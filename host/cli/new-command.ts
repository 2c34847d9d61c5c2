/**
 * `erpmod new <code>`: a complete module directory that builds, passes `erpmod check` and serves its
 * route with no edit. Exit 0 created, 1 refused (the directory exists), 2 usage (bad code or option).
 */

import path from 'node:path';
import { ErpmodError } from '../errors';
import { positionalArgs, runVendorCommand, stringOption } from '../packaging/run-vendor-command';
import { BUILDERS, LANGUAGES, scaffoldModule } from '../packaging/scaffold-module';
import { parseOptions } from './parse-options';

export const NEW_USAGE = `usage: erpmod new <code> [--builder gyp|cmake] [--lang cpp|c] [--dir PARENT]

Creates PARENT/<code>/ (default: ./<code>/): module.yml, a source with one example route
(GET /greetings/:name), a migration, the build files for the builder, package.json, README.md and a
unit test against the SDK's fake context. <code> follows module.yml's rule: lowercase kebab-case,
2 to 40 characters.

options:
  --builder gyp|cmake   node-gyp (binding.gyp, default) or cmake-js (CMakeLists.txt)
  --lang cpp|c          C++ with the erpmod SDK (default), or plain C: node_api.h and erpmod/abi.h only
  --dir PARENT          where to create the module directory (default: the current directory)

exit codes: 0 created, 1 refused (the directory exists), 2 usage
`;

export function newCommand(argv: readonly string[]): Promise<number> {
  return runVendorCommand(NEW_USAGE, argv, () => {
    const { values, positionals } = parseOptions(argv, {
      builder: { type: 'string' },
      lang: { type: 'string' },
      dir: { type: 'string' },
    });
    const [code] = positionalArgs(positionals, 1, 1, 'one module code');
    const builder = choice('--builder', stringOption(values.builder) ?? 'gyp', BUILDERS);
    const language = choice('--lang', stringOption(values.lang) ?? 'cpp', LANGUAGES);
    const result = scaffoldModule(code!, { builder, language, parentDir: stringOption(values.dir) });
    const shown = path.relative(process.cwd(), result.dir) || '.';
    process.stdout.write(
      `created ${shown}/ (${language === 'cpp' ? 'C++' : 'C'}, ${builder === 'gyp' ? 'node-gyp' : 'cmake-js'}): ${result.files.join(', ')}\n` +
        `next: erpmod build ${shown} && erpmod check ${shown}\n`,
    );
    if (!result.kit.installed) {
      process.stdout.write(
        `note: no erpmod package is installed where ${shown}/ can find it, so its build files and test point at ${result.kit.root} by relative paths; ` +
          `run "npm i -D erpmod" in ${shown}/ or a parent and create the module again to refer to the package instead\n`,
      );
    }
    return 0;
  });
}

function choice<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new ErpmodError('ERPMOD_USAGE', `${flag}: expected one of ${allowed.join(', ')}, got "${value}"`);
}
