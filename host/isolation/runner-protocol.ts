import type { LoadedManifest } from '../compliance/types';
import type { MigrationFile } from '../compliance/manifest/list-migration-files';

/**
 * The messages between the host and an isolated module's runner process, sent over the IPC channel
 * with `serialization: 'advanced'` (structured clone: Buffers and nested objects cross without JSON).
 */

export interface RunnerLoadInput {
  readonly loaded: LoadedManifest;
  readonly shadowPath: string;
  readonly sha256: string;
  readonly migrations: readonly MigrationFile[];
  readonly dataDir: string;
  readonly env: Record<string, string | undefined>;
  readonly generationNumber: number;
  readonly logLevel: string;
}

export type HostToRunner =
  | { readonly t: 'load'; readonly input: RunnerLoadInput }
  | { readonly t: 'call'; readonly id: number; readonly key: string; readonly request: unknown }
  | { readonly t: 'event'; readonly topic: string; readonly payload: unknown }
  | { readonly t: 'health'; readonly id: number }
  | { readonly t: 'cleanup' };

export type RunnerToHost =
  | { readonly t: 'ready'; readonly routes: readonly string[]; readonly subscribes: readonly string[]; readonly hasHealth: boolean }
  | { readonly t: 'load-failed'; readonly message: string }
  | { readonly t: 'reply'; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly t: 'reply'; readonly id: number; readonly ok: false; readonly message: string; readonly code?: string }
  | { readonly t: 'publish'; readonly topic: string; readonly payload: unknown }
  | { readonly t: 'cleaned' };
