/**
 * `erpmod verify <pack>`: digests and signature of a pack, without installing it. Exit 0 verified,
 * 1 a check failed or the file is not a pack, 2 usage.
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { extractPack, readPack } from '../packaging/read-pack';
import { positionalArgs, runVendorCommand } from '../packaging/run-vendor-command';
import { readPublicKeyFile } from '../packaging/signing-keys';
import { verifyModuleDir, type Finding } from '../packaging/verify-module-dir';
import { parseOptions } from './parse-options';

export const VERIFY_USAGE = `usage: erpmod verify <pack> [--trusted-key FILE]...

Checks a pack made by erpmod pack: module.yml is valid, every packed binary matches the sha256 pinned
for it (and every pin has its binary), and module.yml.sig matches module.yml. With --trusted-key the
pack must be signed by one of the given public keys; without, an intact signature by any key passes
and an unsigned pack is reported but not failed.

options:
  --trusted-key FILE   a public key (erpmod keygen's .pub, or PEM); repeatable

exit codes: 0 verified, 1 a check failed or not a pack, 2 usage
`;

const MARKS: Record<Finding['status'], string> = { pass: '✔', fail: '✖', warn: '⚠', note: '·' };

export function verifyCommand(argv: readonly string[]): Promise<number> {
  return runVendorCommand(VERIFY_USAGE, argv, async () => {
    const { values, positionals } = parseOptions(argv, { 'trusted-key': { type: 'string', multiple: true } });
    const [file] = positionalArgs(positionals, 1, 1, 'one pack file');
    const keyFiles = (values['trusted-key'] as unknown as string[] | undefined) ?? [];
    const trustedKeys = keyFiles.map((f) => readPublicKeyFile(f));
    const pack = await readPack(file!);
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'erpmod-verify-'));
    try {
      const dir = path.join(scratch, pack.code);
      await extractPack(pack, dir);
      const result = verifyModuleDir(dir, { trustedKeys: trustedKeys.length > 0 ? trustedKeys : undefined, requireSignature: trustedKeys.length > 0 });
      const lines = result.findings.map((f) => `${MARKS[f.status]} ${f.rule.padEnd(17)} ${f.message}`);
      const what = result.loaded === undefined ? pack.code : `${result.loaded.manifest.code} ${result.loaded.manifest.version}`;
      lines.push(result.ok ? `verified: ${what}` : `NOT verified: ${what}`);
      process.stdout.write(`${lines.join('\n')}\n`);
      return result.ok ? 0 : 1;
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });
}
