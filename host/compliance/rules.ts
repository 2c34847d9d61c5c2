/**
 * The rule catalogue: one entry per RuleId, with the sentence a vendor needs when it fails. IDs never
 * change meaning; docs/rules.md has a section per rule and a test keeps the two in step.
 */

import type { RuleId, Severity } from './types';

export interface RuleDefinition {
  readonly id: RuleId;
  /** Severity of its violations unless a check says otherwise (e.g. unknown info block keys warn). */
  readonly severity: Severity;
  readonly phase: 'manifest' | 'static' | 'load';
  readonly title: string;
  readonly why: string;
  readonly fix: string;
}

const definitions = [
  { id: 'manifest/schema', severity: 'error', phase: 'manifest', title: 'module.yml parses and matches the schema',
    why: 'the checker, the host and the registry read module.yml without running vendor code; a wrong field would be guessed at',
    fix: 'correct the field named in the message; docs/rules.md and module-manifest.md list every field' },
  { id: 'binary/present', severity: 'error', phase: 'static', title: 'the platform\'s binary is declared and present inside the module directory',
    why: 'without a binary for this <platform>-<arch> there is nothing to load; a path outside the module directory could load a file its owner does not control',
    fix: 'build the library for this platform and declare it under binaries.<platform>-<arch> with a path inside the module directory' },
  { id: 'binary/format', severity: 'error', phase: 'static', title: 'the binary is a shared library of the platform\'s format with the matching extension',
    why: 'Linux loads ELF .so, macOS Mach-O .dylib, Windows PE .dll; anything else fails at dlopen with an unhelpful message',
    fix: 'build a shared library (not an executable or object file) for the target platform and name it <code>.so, .dylib or .dll' },
  { id: 'binary/arch', severity: 'error', phase: 'static', title: 'the machine type matches the platform key',
    why: 'a library for another CPU fails at dlopen with "wrong ELF class" or similar, far from its cause',
    fix: 'build for the architecture the binaries key names, or declare the file under the key of the architecture it was built for' },
  { id: 'binary/sha256', severity: 'error', phase: 'static', title: 'the binary\'s digest matches module.yml sha256 when pinned',
    why: 'a pinned digest proves the file is the one the pack step produced, not a later or tampered copy',
    fix: 'copy the binary that was packed, or re-run the pack step to pin the new digest' },
  { id: 'binary/signature', severity: 'error', phase: 'static', title: 'the binary\'s signature is valid for a trusted key when the host requires signatures',
    why: 'a host that requires signatures must refuse code no trusted party vouched for',
    fix: 'sign the binary with a key the host trusts, or add the vendor\'s public key to the host\'s trusted keys' },
  { id: 'abi/napi-entry', severity: 'error', phase: 'static', title: 'exports napi_register_module_v1',
    why: 'a library without the Node-API entry is not an addon: process.dlopen fails with "Module did not self-register"',
    fix: 'register the module with NAPI_MODULE_INIT / NODE_API_MODULE (the SDK\'s ERPMOD_MODULE does it) and keep the symbol visible' },
  { id: 'abi/napi-version', severity: 'error', phase: 'static', title: 'declares a Node-API version equal to abi.napi and supported by this Node',
    why: 'Node 20 crashes with SIGSEGV (no catchable error) when it dlopens a library that declares Node-API 10 or more; the host must never hand it such a file',
    fix: 'build with NAPI_VERSION set to the version module.yml abi.napi names (8 is the project default) and no higher than this Node supports' },
  { id: 'abi/no-legacy-entry', severity: 'error', phase: 'static', title: 'does not export node_register_module_v<N>',
    why: 'that is the legacy, non-ABI-stable entry: the library is tied to one Node major and breaks on upgrade',
    fix: 'use Node-API (node_api.h / node-addon-api) with NAPI_MODULE_INIT instead of NODE_MODULE, and rebuild' },
  { id: 'abi/imports', severity: 'error', phase: 'static', title: 'imports only Node-API (plus the C and C++ runtime) from the host',
    why: 'V8, Node internals and libuv change between Node majors: a library that imports them does not survive a Node upgrade',
    fix: 'replace the listed V8, node:: or uv_ calls with their Node-API equivalents (napi_* / node_api_*)' },
  { id: 'abi/erpmod-version', severity: 'error', phase: 'static', title: 'the info block\'s erpmod_abi is supported by the host and equals abi.erpmod',
    why: 'a library built against another erpmod ABI major reads requests and contexts in a shape the host does not give it',
    fix: 'rebuild against an SDK whose ERPMOD_ABI_VERSION the host accepts, and set module.yml abi.erpmod to it' },
  { id: 'meta/info-block', severity: 'error', phase: 'static', title: 'the info block is present and well formed',
    why: 'CI and the host read the module\'s identity and pinned versions from it without executing code',
    fix: 'build with the SDK\'s ERPMOD_MODULE (or ERPMOD_INFO_BLOCK from erpmod/abi.h) and keep the section: used, retain' },
  { id: 'meta/identity', severity: 'error', phase: 'static', title: 'the info block\'s code and version equal module.yml',
    why: 'a binary of another module or another release under this manifest would register the wrong routes or migrations',
    fix: 'rebuild with the code and version module.yml declares, or update module.yml to the binary you mean to ship' },
  { id: 'load/dlopen', severity: 'error', phase: 'load', title: 'loads with RTLD_NOW, without crashing, within the timeout',
    why: 'a missing symbol resolved lazily kills the process on first call; a crash or hang at load must be found before the host meets it',
    fix: 'link every library the module needs, resolve the missing symbol named in the message, and keep load-time work short' },
  { id: 'load/handler', severity: 'error', phase: 'load', title: 'Handler is exported and returns an object with the required methods',
    why: 'the host drives a module only through Handler(): getModuleCode, getModuleVersion, initialize, getHandler, cleanup',
    fix: 'export Handler (the SDK\'s ERPMOD_MODULE does) and implement every required method' },
  { id: 'load/identity', severity: 'error', phase: 'load', title: 'getModuleCode() and getModuleVersion() equal module.yml',
    why: 'the running code must be the module the manifest and registry describe',
    fix: 'return the code and version module.yml declares (the SDK takes them from ERPMOD_MODULE)' },
  { id: 'load/routes', severity: 'error', phase: 'load', title: 'every declared route resolves to a function',
    why: 'a route the manifest declares but the library does not serve would answer every request with an error',
    fix: 'return a handler function from getHandler(route, method) for each routes entry, or remove the route from module.yml' },
] as const satisfies readonly RuleDefinition[];

/** Fails to compile when a RuleId in types.ts has no definition above. */
export type EveryRuleDefined = [Exclude<RuleId, (typeof definitions)[number]['id']>] extends [never] ? true : never;
const everyRuleDefined: EveryRuleDefined = true;
void everyRuleDefined;

export const RULES: Readonly<Record<RuleId, RuleDefinition>> = Object.freeze(
  Object.fromEntries(definitions.map((d) => [d.id, d])) as Record<RuleId, RuleDefinition>,
);

/** Every rule, in catalogue order (the order reports list them in). */
export const RULE_IDS: readonly RuleId[] = definitions.map((d) => d.id);

export function ruleOf(id: RuleId): RuleDefinition {
  return RULES[id];
}
