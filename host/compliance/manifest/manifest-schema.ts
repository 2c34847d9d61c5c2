/**
 * The module.yml schema, written by hand so every issue gets a precise path and a message naming what was
 * expected and what was found (module-manifest.md). Validation collects every issue instead of stopping
 * at the first: a vendor fixes the file in one round trip.
 */

import { HTTP_METHODS } from '../types';
import type { Execution, HttpMethod, Isolation, ModuleManifest, RouteDeclaration } from '../types';
import { resolveInside } from './resolve-inside';
import fs from 'node:fs';

export interface ManifestIssue {
  /** Where in the document, e.g. `routes[2].method`; empty for the document itself. */
  readonly path: string;
  readonly message: string;
}

export const MANIFEST_KEYS = [
  'code', 'name', 'version', 'description', 'vendor', 'abi', 'binaries', 'sha256', 'dependencies',
  'feature_flag', 'critical', 'isolation', 'routes', 'events', 'migrations', 'config', 'timeouts',
  'execution', 'max_concurrency', 'http',
] as const;

export const PLATFORMS = ['linux', 'darwin', 'win32'] as const;
export const ARCHES = ['x64', 'arm64', 'ia32', 'arm', 'ppc64', 's390x', 'riscv64'] as const;
/** Codes the host keeps for itself (`/api/v1/system/...`). */
export const RESERVED_CODES = ['system'] as const;
export const ISOLATIONS: readonly Isolation[] = ['in-process', 'process'];
export const EXECUTIONS: readonly Execution[] = ['main', 'pool'];
/** docs/decisions.md: one at a time unless the vendor says its code is thread-safe. */
export const DEFAULT_MAX_CONCURRENCY = 1;
const MAX_CONCURRENCY = 1024;
/** `host:port`, host a name, IPv4 or [IPv6]. */
const HTTP_ALLOW_PATTERN = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/;

export const CODE_PATTERN = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;
export const SEMVER_PATTERN =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;
export const TOPIC_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/;
export const FEATURE_FLAG_PATTERN = /^[a-z][a-z0-9_]*$/;
const SEGMENT_PATTERN = /^[A-Za-z0-9._~-]+$/;
const PARAM_PATTERN = /^:[A-Za-z_][A-Za-z0-9_]*$/;
const SHA256_PATTERN = /^[0-9a-fA-F]{64}$/;

export const TIMEOUT_DEFAULTS = { initMs: 5000, requestMs: 2000 } as const;
/** Beyond these a timeout no longer protects anything; a typo (extra zeros) is likelier than intent. */
export const TIMEOUT_MAXIMA = { initMs: 300_000, requestMs: 300_000 } as const;
const MAX_ABI = 2_147_483_647;

type Raw = Record<string, unknown>;

/** Validates the parsed YAML; returns the manifest only when there is no issue. */
export function validateManifest(raw: unknown, moduleDir: string): { manifest: ModuleManifest | undefined; issues: ManifestIssue[] } {
  const v = new Validator();
  if (!isMapping(raw)) {
    v.issue('', `expected a mapping at the top level, got ${describe(raw)}`);
    return { manifest: undefined, issues: v.issues };
  }
  for (const key of Object.keys(raw)) {
    if (!(MANIFEST_KEYS as readonly string[]).includes(key)) {
      v.issue(join('', key), `unknown key; expected one of ${MANIFEST_KEYS.join(', ')}`);
    }
  }

  const code = v.code('code', raw.code);
  const name = v.text('name', raw.name, { required: true, max: 100 });
  const version = v.semver('version', raw.version);
  const description = v.text('description', raw.description, { required: false, max: 2000 });
  const vendor = v.text('vendor', raw.vendor, { required: false, max: 200 });
  const abi = v.abi(raw.abi);
  const binaries = v.binaries(raw.binaries, moduleDir);
  const sha256 = v.sha256(raw.sha256, binaries);
  const dependencies = v.dependencies(raw.dependencies, code);
  const featureFlag = raw.feature_flag === undefined ? undefined : v.pattern('feature_flag', raw.feature_flag, FEATURE_FLAG_PATTERN, 'lowercase snake_case like enable_sales');
  const critical = raw.critical === undefined ? undefined : v.boolean('critical', raw.critical);
  const isolation = raw.isolation === undefined ? 'in-process' : v.oneOf('isolation', raw.isolation, ISOLATIONS);
  const execution = raw.execution === undefined ? 'main' : v.oneOf('execution', raw.execution, EXECUTIONS);
  const routes = v.routes(raw.routes, execution ?? 'main');
  const maxConcurrency = raw.max_concurrency === undefined ? DEFAULT_MAX_CONCURRENCY : v.integer('max_concurrency', raw.max_concurrency, MAX_CONCURRENCY);
  const http = v.http(raw.http);
  const events = v.events(raw.events);
  const migrations = raw.migrations === undefined ? undefined : v.directory('migrations', raw.migrations, moduleDir);
  const config = raw.config === undefined || raw.config === null ? {} : v.mapping('config', raw.config);
  const timeouts = v.timeouts(raw.timeouts);

  if (v.issues.length > 0) return { manifest: undefined, issues: v.issues };
  const manifest: ModuleManifest = {
    code: code!, name: name!, version: version!, description, vendor, abi: abi!, binaries: binaries!, sha256,
    dependencies, featureFlag, critical, isolation: isolation as Isolation, routes, events, migrations,
    config: config ?? {}, timeouts, execution: execution!, maxConcurrency: maxConcurrency!, http,
  };
  return { manifest, issues: [] };
}

class Validator {
  readonly issues: ManifestIssue[] = [];

  issue(path: string, message: string): undefined {
    this.issues.push({ path, message });
    return undefined;
  }

  text(path: string, value: unknown, o: { required: boolean; max: number }): string | undefined {
    if (value === undefined || value === null) return o.required ? this.issue(path, 'required') : undefined;
    if (typeof value !== 'string') return this.issue(path, `expected a string, got ${describe(value)}`);
    if (value.trim() === '') return this.issue(path, 'expected a non-empty string');
    if (value.length > o.max) return this.issue(path, `expected at most ${o.max} characters, got ${value.length}`);
    return value;
  }

  code(path: string, value: unknown): string | undefined {
    const code = this.text(path, value, { required: true, max: 40 });
    if (code === undefined) return undefined;
    if (code.length < 2 || !CODE_PATTERN.test(code)) {
      return this.issue(path, `expected lowercase kebab-case of 2 to 40 characters (like sales or stock-ledger), got ${JSON.stringify(code)}`);
    }
    if ((RESERVED_CODES as readonly string[]).includes(code)) {
      return this.issue(path, `${JSON.stringify(code)} is reserved by the host; choose another code`);
    }
    return code;
  }

  semver(path: string, value: unknown): string | undefined {
    if (typeof value === 'number') return this.issue(path, `expected a semver string like "1.4.0", got ${value} (quote it)`);
    const text = this.text(path, value, { required: true, max: 100 });
    if (text !== undefined && !SEMVER_PATTERN.test(text)) {
      return this.issue(path, `expected a semver version like 1.4.0, got ${JSON.stringify(text)}`);
    }
    return text;
  }

  pattern(path: string, value: unknown, pattern: RegExp, what: string): string | undefined {
    if (typeof value !== 'string') return this.issue(path, `expected a string, got ${describe(value)}`);
    return pattern.test(value) ? value : this.issue(path, `expected ${what}, got ${JSON.stringify(value)}`);
  }

  boolean(path: string, value: unknown): boolean | undefined {
    return typeof value === 'boolean' ? value : this.issue(path, `expected true or false, got ${describe(value)}`);
  }

  integer(path: string, value: unknown, max: number): number | undefined {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
      return this.issue(path, `expected a positive integer, got ${describe(value)}`);
    }
    return value > max ? this.issue(path, `expected at most ${max}, got ${value}`) : value;
  }

  oneOf<T extends string>(path: string, value: unknown, allowed: readonly T[]): T | undefined {
    if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
    return this.issue(path, `expected one of ${allowed.join(', ')}, got ${describe(value)}`);
  }

  mapping(path: string, value: unknown, required = false): Raw | undefined {
    if (value === undefined || value === null) return required ? this.issue(path, 'required') : undefined;
    return isMapping(value) ? value : this.issue(path, `expected a mapping, got ${describe(value)}`);
  }

  list(path: string, value: unknown, required = false): unknown[] | undefined {
    if (value === undefined || value === null) return required ? this.issue(path, 'required') : undefined;
    return Array.isArray(value) ? value : this.issue(path, `expected a list, got ${describe(value)}`);
  }

  onlyKeys(path: string, value: Raw, allowed: readonly string[]): void {
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) this.issue(join(path, key), `unknown key; expected one of ${allowed.join(', ')}`);
    }
  }

  abi(value: unknown): ModuleManifest['abi'] | undefined {
    const abi = this.mapping('abi', value, true);
    if (!abi) return undefined;
    this.onlyKeys('abi', abi, ['erpmod', 'napi']);
    const erpmod = abi.erpmod === undefined ? this.issue('abi.erpmod', 'required') : this.integer('abi.erpmod', abi.erpmod, MAX_ABI);
    const napi = abi.napi === undefined ? this.issue('abi.napi', 'required') : this.integer('abi.napi', abi.napi, MAX_ABI);
    return erpmod !== undefined && napi !== undefined ? { erpmod, napi } : undefined;
  }

  binaries(value: unknown, moduleDir: string): Record<string, string> | undefined {
    const binaries = this.mapping('binaries', value, true);
    if (!binaries) return undefined;
    const keys = Object.keys(binaries);
    if (keys.length === 0) return this.issue('binaries', 'expected at least one <platform>-<arch> entry');
    const out: Record<string, string> = {};
    for (const key of keys) {
      const path = join('binaries', key);
      const dash = key.indexOf('-');
      const platform = key.slice(0, dash);
      const arch = key.slice(dash + 1);
      if (dash < 0 || !(PLATFORMS as readonly string[]).includes(platform) || !(ARCHES as readonly string[]).includes(arch)) {
        this.issue(path, `expected a key <platform>-<arch> with platform one of ${PLATFORMS.join(', ')} and arch one of ${ARCHES.join(', ')}, got ${JSON.stringify(key)}`);
        continue;
      }
      const file = this.text(path, binaries[key], { required: true, max: 1024 });
      if (file === undefined) continue;
      const resolved = resolveInside(moduleDir, file);
      if (!resolved.ok) this.issue(path, resolved.reason);
      else out[key] = file;
    }
    return out;
  }

  sha256(value: unknown, binaries: Record<string, string> | undefined): Record<string, string> {
    const pins = this.mapping('sha256', value);
    const out: Record<string, string> = {};
    if (!pins) return out;
    for (const [key, digest] of Object.entries(pins)) {
      const path = join('sha256', key);
      if (binaries && !(key in binaries)) {
        this.issue(path, `pins a binary that binaries does not declare; declared: ${Object.keys(binaries).join(', ') || 'none'}`);
      } else if (typeof digest === 'number') {
        // An unquoted digest of digits only (or digits and one e) reads as a YAML number.
        this.issue(path, `expected 64 hexadecimal characters, got the number ${digest}: quote the digest`);
      } else if (typeof digest !== 'string' || !SHA256_PATTERN.test(digest)) {
        this.issue(path, `expected 64 hexadecimal characters, got ${describe(digest)}`);
      } else {
        out[key] = digest.toLowerCase();
      }
    }
    return out;
  }

  dependencies(value: unknown, ownCode: string | undefined): string[] {
    const list = this.list('dependencies', value) ?? [];
    const seen = new Set<string>();
    list.forEach((item, i) => {
      const path = `dependencies[${i}]`;
      if (typeof item !== 'string' || !CODE_PATTERN.test(item)) {
        this.issue(path, `expected a module code (lowercase kebab-case), got ${describe(item)}`);
      } else if (item === ownCode) {
        this.issue(path, 'a module cannot depend on itself');
      } else if (seen.has(item)) {
        this.issue(path, `duplicate dependency ${JSON.stringify(item)}`);
      } else {
        seen.add(item);
      }
    });
    return [...seen];
  }

  http(value: unknown): ModuleManifest['http'] {
    const http = this.mapping('http', value);
    if (!http) return { allow: [] };
    this.onlyKeys('http', http, ['allow']);
    const list = this.list('http.allow', http.allow) ?? [];
    const allow: string[] = [];
    list.forEach((item, i) => {
      const path = `http.allow[${i}]`;
      const match = typeof item === 'string' ? HTTP_ALLOW_PATTERN.exec(item) : null;
      if (match === null) return this.issue(path, `expected host:port like "rates.example.com:443", got ${describe(item)}`);
      const port = Number(match[3]);
      if (port < 1 || port > 65535) return this.issue(path, `expected a port from 1 to 65535, got ${port}`);
      allow.push((item as string).toLowerCase());
    });
    return { allow };
  }

  routes(value: unknown, moduleExecution: Execution): RouteDeclaration[] {
    const list = this.list('routes', value, true) ?? [];
    const routes: RouteDeclaration[] = [];
    const seen = new Map<string, number>();
    list.forEach((item, i) => {
      const path = `routes[${i}]`;
      const route = this.mapping(path, item, true);
      if (!route) return;
      this.onlyKeys(path, route, ['method', 'path', 'execution', 'accepts']);
      const execution = route.execution === undefined ? moduleExecution : this.oneOf(`${path}.execution`, route.execution, EXECUTIONS);
      const accepts = route.accepts === undefined ? undefined : this.oneOf<'json'>(`${path}.accepts`, route.accepts, ['json']);
      const method = this.oneOf<HttpMethod>(`${path}.method`, route.method, HTTP_METHODS);
      const pattern = route.path === undefined ? this.issue(`${path}.path`, 'required') : this.routePath(`${path}.path`, route.path);
      if (method === undefined || pattern === undefined || execution === undefined) return;
      // `/orders/:id` and `/orders/:key` are the same route to a router: compare shapes, not spellings.
      const shape = `${method} ${pattern.replace(/:[A-Za-z0-9_]+/g, ':')}`;
      const first = seen.get(shape);
      if (first !== undefined) {
        this.issue(path, `duplicate route ${method} ${pattern}: routes[${first}] already declares it`);
        return;
      }
      seen.set(shape, i);
      routes.push(accepts === undefined ? { method, path: pattern, execution } : { method, path: pattern, execution, accepts });
    });
    return routes;
  }

  routePath(path: string, value: unknown): string | undefined {
    if (typeof value !== 'string') return this.issue(path, `expected a string starting with /, got ${describe(value)}`);
    if (!value.startsWith('/')) return this.issue(path, `expected a path starting with /, got ${JSON.stringify(value)}`);
    if (value === '/') return value;
    if (value.endsWith('/')) return this.issue(path, `expected no trailing slash, got ${JSON.stringify(value)}`);
    const params = new Set<string>();
    for (const segment of value.slice(1).split('/')) {
      if (segment === '') return this.issue(path, `expected no empty segment (//), got ${JSON.stringify(value)}`);
      if (segment === '.' || segment === '..') {
        return this.issue(path, `expected no . or .. segment (a route must stay under the module's prefix), got ${JSON.stringify(value)}`);
      }
      if (segment.startsWith(':')) {
        if (!PARAM_PATTERN.test(segment)) return this.issue(path, `expected a parameter like :id, got ${JSON.stringify(segment)}`);
        if (params.has(segment)) return this.issue(path, `parameter ${segment} appears twice in ${JSON.stringify(value)}`);
        params.add(segment);
      } else if (!SEGMENT_PATTERN.test(segment)) {
        return this.issue(path, `expected segments of letters, digits, . _ ~ - or :name parameters, got ${JSON.stringify(segment)}`);
      }
    }
    return value;
  }

  events(value: unknown): ModuleManifest['events'] {
    const events = this.mapping('events', value);
    if (!events) return { publishes: [], subscribes: [] };
    this.onlyKeys('events', events, ['publishes', 'subscribes']);
    return { publishes: this.topics('events.publishes', events.publishes), subscribes: this.topics('events.subscribes', events.subscribes) };
  }

  topics(path: string, value: unknown): string[] {
    const list = this.list(path, value) ?? [];
    const topics = new Set<string>();
    list.forEach((item, i) => {
      const topic = this.pattern(`${path}[${i}]`, item, TOPIC_PATTERN, 'a topic entity.action like order.created');
      if (topic === undefined) return;
      if (topics.has(topic)) this.issue(`${path}[${i}]`, `duplicate topic ${JSON.stringify(topic)}`);
      topics.add(topic);
    });
    return [...topics];
  }

  directory(path: string, value: unknown, moduleDir: string): string | undefined {
    const dir = this.text(path, value, { required: true, max: 1024 });
    if (dir === undefined) return undefined;
    const resolved = resolveInside(moduleDir, dir);
    if (!resolved.ok) return this.issue(path, resolved.reason);
    if (resolved.exists && !fs.statSync(resolved.absolute).isDirectory()) {
      return this.issue(path, `expected a directory, got a file at ${JSON.stringify(dir)}`);
    }
    return dir;
  }

  timeouts(value: unknown): ModuleManifest['timeouts'] {
    const timeouts = this.mapping('timeouts', value);
    if (!timeouts) return { ...TIMEOUT_DEFAULTS };
    this.onlyKeys('timeouts', timeouts, ['init_ms', 'request_ms']);
    const initMs = timeouts.init_ms === undefined ? TIMEOUT_DEFAULTS.initMs : this.integer('timeouts.init_ms', timeouts.init_ms, TIMEOUT_MAXIMA.initMs);
    const requestMs = timeouts.request_ms === undefined ? TIMEOUT_DEFAULTS.requestMs : this.integer('timeouts.request_ms', timeouts.request_ms, TIMEOUT_MAXIMA.requestMs);
    return { initMs: initMs ?? TIMEOUT_DEFAULTS.initMs, requestMs: requestMs ?? TIMEOUT_DEFAULTS.requestMs };
  }
}

function isMapping(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function join(path: string, key: string): string {
  const part = /^[A-Za-z0-9_-]+$/.test(key) ? key : `[${JSON.stringify(key)}]`;
  if (path === '') return part;
  return part.startsWith('[') ? `${path}${part}` : `${path}.${part}`;
}

/** A value as a message shows it: strings quoted, containers by kind. */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}
