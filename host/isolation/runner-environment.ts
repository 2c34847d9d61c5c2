import type { ModuleManifest } from '../compliance/types';
import { configVariable } from '../loader/create-module-context';

/** The host's own settings and secrets live under this prefix (README "Configuration"). */
const HOST_NAMESPACE = 'ERPMOD_';
/** Never handed to a module process, even where a module's config variable would have the same name. */
const HOST_SECRETS = new Set(['ERPMOD_ADMIN_TOKEN']);

/**
 * The environment of an isolated module's process: the host's, minus the ERPMOD_ namespace (the
 * host's configuration, its admin token, and other modules' config overrides), plus this module's
 * own declared overrides ERPMOD_<CODE>_<KEY>. Variables outside the namespace pass through, as an
 * in-process module sees them, so a library that reads e.g. LD_LIBRARY_PATH or TZ keeps working.
 */
export function runnerEnvironment(manifest: ModuleManifest, hostEnv: NodeJS.ProcessEnv): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(hostEnv)) {
    if (value !== undefined && !name.startsWith(HOST_NAMESPACE)) env[name] = value;
  }
  for (const key of Object.keys(manifest.config)) {
    const name = configVariable(manifest.code, key);
    const value = hostEnv[name];
    if (value !== undefined && !HOST_SECRETS.has(name)) env[name] = value;
  }
  return env;
}
