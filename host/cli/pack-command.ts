/**
 * `erpmod pack [MODULE_DIR]`: a `.tgz` with module.yml (sha256 pinned for every packed binary), the
 * binaries that exist, migrations and README.md; signed with `--key`. Exit 0 packed, 1 refused (no
 * binary built, bad key or manifest), 2 usage.
 */

import path from 'node:path';
import { packModule } from '../packaging/pack-module';
import { positionalArgs, runVendorCommand, stringOption } from '../packaging/run-vendor-command';
import { parseOptions } from './parse-options';

export const PACK_USAGE = `usage: erpmod pack [MODULE_DIR] [--key KEYFILE] [--out FILE]

Packs MODULE_DIR (default: the current directory) into FILE (default: ./<code>-<version>.tgz):
<code>/module.yml with sha256: pinning each packed binary, every declared binary that exists,
the migrations directory and README.md. Sources and build/ are not packed.

options:
  --key KEYFILE   sign the packed module.yml with this Ed25519 private key (erpmod keygen);
                  the signature is <code>/module.yml.sig in the pack
  --out FILE      where to write the pack

exit codes: 0 packed, 1 refused (nothing built, bad key, bad module.yml), 2 usage
`;

export function packCommand(argv: readonly string[]): Promise<number> {
  return runVendorCommand(PACK_USAGE, argv, () => {
    const { values, positionals } = parseOptions(argv, { key: { type: 'string' }, out: { type: 'string' } });
    const [dir = '.'] = positionalArgs(positionals, 0, 1, 'at most one module directory');
    const result = packModule(dir, { keyFile: stringOption(values.key), out: stringOption(values.out) });
    const lines = [`packed ${result.code} ${result.version} -> ${path.relative(process.cwd(), result.file) || result.file}`];
    for (const b of result.binaries) lines.push(`  ${b.platformKey.padEnd(13)} ${b.path}  sha256 ${b.sha256}`);
    for (const m of result.missing) lines.push(`  ${m.platformKey.padEnd(13)} ${m.path}  not built, not packed`);
    lines.push(result.signedBy === undefined ? '  unsigned (sign with --key KEYFILE)' : `  signed by key ${result.signedBy}`);
    process.stdout.write(`${lines.join('\n')}\n`);
    return 0;
  });
}
