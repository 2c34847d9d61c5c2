/**
 * The meta/* rules: the info block is there, well formed, and names the module module.yml describes.
 */

import type { RuleCollector } from './rule-collector';
import type { BinaryFormat, BinaryInfo, ModuleManifest } from './types';

const SECTION_NAMES: Readonly<Record<BinaryFormat, string>> = {
  elf: 'an .erpmod section',
  macho: 'a __DATA,__erpmod section',
  pe: 'an .erpmod section',
};

export function checkInfoBlock(c: RuleCollector, info: BinaryInfo): void {
  c.run('meta/info-block');
  const block = info.infoBlock;
  if (!block) {
    c.fail('meta/info-block', {
      message: `the library has no info block (${SECTION_NAMES[info.format]}), so its identity and versions cannot be read without running it`,
      expected: `${SECTION_NAMES[info.format]} starting with erpmod_info=1`,
      found: 'no such section',
    });
    return;
  }
  for (const problem of block.problems) {
    c.fail('meta/info-block', {
      message: `the info block is malformed: ${problem}`,
      expected: 'NUL-terminated key=value lines: erpmod_info=1, erpmod_abi, code, version, napi, sdk, each once',
      found: problem,
    });
  }
  if (block.unknownKeys.length > 0) {
    c.fail('meta/info-block', {
      severity: 'warning',
      message: `the info block has keys this host does not know: ${block.unknownKeys.join(', ')} (ignored)`,
      found: block.unknownKeys.join(', '),
      fix: 'remove the keys, or upgrade the host if a newer SDK wrote them',
    });
  }
}

export function checkIdentity(c: RuleCollector, manifest: ModuleManifest, info: BinaryInfo): void {
  const block = info.infoBlock;
  if (!block) return; // meta/info-block already failed; there is no identity to compare.
  c.run('meta/identity');
  for (const key of ['code', 'version'] as const) {
    const found = block.fields[key];
    if (found === manifest[key]) continue;
    c.fail('meta/identity', {
      message: found === undefined
        ? `the info block has no ${key}= line; module.yml says ${key}: ${manifest[key]}`
        : `the info block says ${key}=${found}, but module.yml says ${key}: ${manifest[key]}`,
      expected: `${key}=${manifest[key]}`,
      found: found === undefined ? 'nothing' : `${key}=${found}`,
    });
  }
}
