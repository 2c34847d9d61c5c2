import type { LoadedManifest } from '../compliance/types';
import type { MigrationFile } from '../compliance/manifest/list-migration-files';
import type { ExecutionSettings } from '../execution/configure-execution';
import type { RunnerStoreSettings } from '../store/module-store';

/**
 * The messages between the host and an isolated module's runner process, sent over the IPC channel as
 * JSON (measured faster than structured clone for messages this size: docs/isolation.md). JSON has no
 * Buffers, so binary bodies cross as `{ base64 }` objects (a request's rawBody, a reply's Buffer body).
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
  /** The host's pool_threads, pool_queue_limit and http_max_response_bytes, applied in the runner as in the host. */
  readonly execution: ExecutionSettings;
  /** The module's own database connection when the host keeps module data on PostgreSQL. */
  readonly store?: RunnerStoreSettings;
}

/** A Buffer crossing the channel. */
export interface EncodedBytes {
  readonly base64: string;
}

export function encodeBytes(bytes: Buffer): EncodedBytes {
  return { base64: bytes.toString('base64') };
}

export function decodeBytes(value: unknown): Buffer | undefined {
  if (value !== null && typeof value === 'object' && typeof (value as EncodedBytes).base64 === 'string') {
    return Buffer.from((value as EncodedBytes).base64, 'base64');
  }
  return undefined;
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
