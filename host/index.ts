/**
 * erpmod's public TypeScript surface: what an embedding application or a tool may import. Everything
 * else under host/ is internal and may change without notice.
 *
 * @example
 * import { loadConfig, startHost } from 'erpmod';
 * const host = await startHost(loadConfig({ overrides: { port: 0, adminPort: 0 } }));
 * // module routes on host.url; operator routes on host.adminUrl, with the admin token
 * // ... later
 * await host.close();
 */

export { startHost } from './start-host';
export type { RunningHost, StartHostOptions } from './start-host';
export { loadConfig } from './config/load-config';
export type { HostConfig, LoadConfigOptions } from './config/load-config';
export { ErpmodError, ERROR_DEFINITIONS, isErpmodError } from './errors';
export type { ErrorCode, ErrorDefinition } from './errors';
export type { ModuleContext } from './loader/create-module-context';
export type { ModuleHandler } from './loader/load-native-library';
export * from './compliance/index';
