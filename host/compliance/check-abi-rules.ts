/**
 * The abi/* rules: what the library exports and imports, and which Node-API and erpmod ABI versions it
 * declares. Run on BinaryInfo only; nothing here touches the file system or executes vendor code.
 */

import { infoBlockInteger } from './binary/read-info-block';
import { NAPI_VERSION_SYMBOL } from './binary/read-napi-version-from-code';
import { demangleName } from './demangle-name';
import type { RuleCollector } from './rule-collector';
import type { BinaryInfo, CheckTarget, ModuleManifest } from './types';

export const NAPI_ENTRY_SYMBOL = 'napi_register_module_v1';
/** The version the project pins by default (package.json binary.napi_versions). */
export const DEFAULT_NAPI_VERSION = 8;
const LEGACY_ENTRY = /^_?node_register_module_v\d+$/;
const NODE_API_IMPORT = /^_?(napi_|node_api_)/;
const MAX_LISTED = 20;

/** Host-side symbol families that change between Node majors. */
const FORBIDDEN_IMPORTS: readonly { family: string; pattern: RegExp }[] = [
  // Itanium nested names (and their vtables/typeinfo) in namespace v8 or node.
  { family: 'V8', pattern: /^_?_Z(?:T[VIS])?N[KVr]*2v8(?:\d|I)/ },
  { family: 'Node internals', pattern: /^_?_Z(?:T[VIS])?N[KVr]*4node(?:\d|I)/ },
  { family: 'Node internals', pattern: /^_?node_module_register$/ },
  { family: 'libuv', pattern: /^_?uv_/ },
];

export interface AbiCheckInput {
  readonly manifest: ModuleManifest;
  readonly target: CheckTarget;
  readonly info: BinaryInfo;
  /** Where manifest-side violations point. */
  readonly manifestPath: string;
}

/** Mach-O names carry a leading underscore; accept either spelling whatever the reader reports. */
export function exportsSymbol(info: BinaryInfo, name: string): boolean {
  return info.exports.includes(name) || info.exports.includes(`_${name}`);
}

export function checkNapiEntry(c: RuleCollector, { info }: AbiCheckInput): void {
  c.run('abi/napi-entry');
  if (!exportsSymbol(info, NAPI_ENTRY_SYMBOL)) {
    c.fail('abi/napi-entry', {
      message: `the library does not export ${NAPI_ENTRY_SYMBOL}, so it is not a Node-API addon (dlopen would fail with "Module did not self-register")`,
      expected: `exported symbol ${NAPI_ENTRY_SYMBOL}`,
      found: `${info.exports.length} exports${info.exports.length > 0 ? `: ${list(info.exports)}` : ''}`,
    });
  }
}

export function checkNapiVersion(c: RuleCollector, { manifest, target, info }: AbiCheckInput): void {
  c.run('abi/napi-version');
  const pinned = manifest.abi.napi;
  const rebuildWith = pinned <= target.maxNapi ? pinned : Math.min(DEFAULT_NAPI_VERSION, target.maxNapi);
  const fix = `rebuild with NAPI_VERSION=${rebuildWith}${pinned !== rebuildWith ? ` and set module.yml abi.napi: ${rebuildWith}` : ''}`;
  if (!exportsSymbol(info, NAPI_VERSION_SYMBOL)) {
    c.fail('abi/napi-version', {
      message: `the library does not export ${NAPI_VERSION_SYMBOL}, so it does not declare its Node-API version`,
      expected: `exported symbol ${NAPI_VERSION_SYMBOL} (emitted by NAPI_MODULE_INIT / NODE_API_MODULE when NAPI_VERSION is set)`,
      found: 'no such export',
      fix: `define NAPI_VERSION=${rebuildWith} and register with NAPI_MODULE_INIT or NODE_API_MODULE`,
    });
  }

  const fromCode = info.declaredNapiFromCode;
  const fromBlock = infoBlockInteger(info.infoBlock, 'napi');
  if (fromCode !== undefined && fromBlock !== undefined && fromCode !== fromBlock) {
    c.fail('abi/napi-version', {
      message: `the code of ${NAPI_VERSION_SYMBOL} returns Node-API ${fromCode} but the info block says napi=${fromBlock}`,
      expected: 'the same version in the code and the info block',
      found: `code ${fromCode}, info block ${fromBlock}`,
      fix: `${fix}; the SDK writes both from NAPI_VERSION, so a mismatch means the block was written by hand or the build mixed two settings`,
    });
  }
  const declared = fromCode ?? fromBlock;
  if (declared === undefined) {
    c.fail('abi/napi-version', {
      message: 'cannot tell which Node-API version the library declares: the info block has no valid napi= and the code is not a recognisable constant return',
      expected: `napi=${pinned} in the info block`,
      found: 'no declared version',
      fix: `build with the SDK (ERPMOD_MODULE writes napi=) and NAPI_VERSION=${rebuildWith}`,
    });
    return;
  }
  if (declared > target.maxNapi) {
    c.fail('abi/napi-version', {
      message: `declared Node-API ${declared}, but this Node supports up to ${target.maxNapi}: ${fix} ` +
        `(Node ${process.versions.node.split('.')[0]} crashes with SIGSEGV at dlopen, with no catchable error, when a library declares a Node-API version it does not support)`,
      expected: `Node-API ≤ ${target.maxNapi}`,
      found: `Node-API ${declared}`,
      fix,
    });
  }
  if (declared !== pinned) {
    c.fail('abi/napi-version', {
      message: `declared Node-API ${declared}, but module.yml abi.napi pins ${pinned}`,
      expected: `Node-API ${pinned}`,
      found: `Node-API ${declared}`,
      fix: declared <= target.maxNapi ? `rebuild with NAPI_VERSION=${pinned}, or set module.yml abi.napi: ${declared}` : fix,
    });
  }
}

export function checkNoLegacyEntry(c: RuleCollector, { info }: AbiCheckInput): void {
  c.run('abi/no-legacy-entry');
  const legacy = info.exports.filter((name) => LEGACY_ENTRY.test(name));
  if (legacy.length > 0) {
    c.fail('abi/no-legacy-entry', {
      message: `the library exports the legacy entry ${legacy.join(', ')}, which ties it to one Node major (NODE_MODULE_VERSION)`,
      expected: `no node_register_module_v<N> export; only ${NAPI_ENTRY_SYMBOL}`,
      found: legacy.join(', '),
    });
  }
}

export function checkImports(c: RuleCollector, { info }: AbiCheckInput): void {
  c.run('abi/imports');
  const offenders: string[] = [];
  for (const name of info.imports) {
    if (NODE_API_IMPORT.test(name)) continue;
    const hit = FORBIDDEN_IMPORTS.find((f) => f.pattern.test(name));
    if (hit) offenders.push(`${demangleName(name)} (${hit.family}${demangleName(name) === name ? '' : `, ${name}`})`);
  }
  if (offenders.length > 0) {
    c.fail('abi/imports', {
      message: `the library imports ${offenders.length} symbol${offenders.length > 1 ? 's' : ''} from outside Node-API, which change between Node majors: ${list(offenders)}`,
      expected: 'imports from the host limited to napi_* and node_api_* (plus the C and C++ runtime)',
      found: list(offenders),
    });
  }
}

export function checkErpmodVersion(c: RuleCollector, { manifest, target, info, manifestPath }: AbiCheckInput): void {
  const accepted = target.erpmodAbis.join(', ');
  if (!target.erpmodAbis.includes(manifest.abi.erpmod)) {
    c.fail('abi/erpmod-version', {
      message: `module.yml abi.erpmod is ${manifest.abi.erpmod}, but this host accepts erpmod ABI ${accepted}`,
      expected: `erpmod ABI ${accepted}`,
      found: `erpmod ABI ${manifest.abi.erpmod}`,
      file: manifestPath,
    });
  }
  if (!info.infoBlock) return; // meta/info-block reports the missing block; nothing to compare here.
  c.run('abi/erpmod-version');
  const declared = infoBlockInteger(info.infoBlock, 'erpmod_abi');
  if (declared === undefined) {
    c.fail('abi/erpmod-version', {
      message: 'the info block has no valid erpmod_abi= line',
      expected: `erpmod_abi=${manifest.abi.erpmod}`,
      found: JSON.stringify(info.infoBlock.fields.erpmod_abi ?? null),
    });
    return;
  }
  if (!target.erpmodAbis.includes(declared)) {
    c.fail('abi/erpmod-version', {
      message: `the library was built against erpmod ABI ${declared}, but this host accepts ${accepted}`,
      expected: `erpmod_abi one of ${accepted}`,
      found: `erpmod_abi=${declared}`,
    });
  } else if (declared !== manifest.abi.erpmod) {
    c.fail('abi/erpmod-version', {
      message: `the info block says erpmod_abi=${declared}, but module.yml abi.erpmod is ${manifest.abi.erpmod}`,
      expected: `erpmod_abi=${manifest.abi.erpmod}`,
      found: `erpmod_abi=${declared}`,
      fix: `set module.yml abi.erpmod: ${declared}, or rebuild against the SDK for erpmod ABI ${manifest.abi.erpmod}`,
    });
  }
}

function list(items: readonly string[]): string {
  const shown = items.slice(0, MAX_LISTED).join(', ');
  return items.length > MAX_LISTED ? `${shown} and ${items.length - MAX_LISTED} more` : shown;
}
