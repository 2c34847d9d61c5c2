/**
 * What `erpmod inspect` shows: the static phase's view of one binary, like `modinfo` for a kernel
 * module. Built from BinaryInfo; `--format json` prints it as is (schemaVersion 1).
 */

import { demangleName } from '../demangle-name';
import type { BinaryInfo } from '../types';

export const INSPECT_REPORT_SCHEMA_VERSION = 1;
const NODE_API_SYMBOL = /^_?(napi_|node_api_)/;

export interface InspectReport {
  readonly schemaVersion: typeof INSPECT_REPORT_SCHEMA_VERSION;
  readonly file: string;
  readonly size: number;
  readonly sha256: string;
  readonly format: BinaryInfo['format'];
  readonly bits: BinaryInfo['bits'];
  readonly endian: BinaryInfo['endian'];
  readonly arch: BinaryInfo['arch'];
  readonly machine: number;
  readonly sharedLibrary: boolean;
  /** Architectures of a universal Mach-O file (the report describes the `arch` slice); null otherwise. */
  readonly universalSlices: readonly string[] | null;
  readonly napi: { readonly fromCode: number | null; readonly fromInfoBlock: number | null };
  readonly infoBlock: {
    readonly fields: Readonly<Record<string, string>>;
    readonly unknownKeys: readonly string[];
    readonly problems: readonly string[];
  } | null;
  readonly exports: readonly string[];
  readonly imports: {
    readonly nodeApi: readonly string[];
    readonly other: readonly { readonly name: string; readonly demangled: string | null }[];
  };
  readonly neededLibraries: readonly string[];
}

export interface InspectInput {
  readonly file: string;
  readonly size: number;
  readonly sha256: string;
  readonly info: BinaryInfo;
  readonly universalSlices: readonly string[] | undefined;
}

export function buildInspectReport({ file, size, sha256, info, universalSlices }: InspectInput): InspectReport {
  const napiFromInfo = Number(info.infoBlock?.fields.napi);
  const sorted = (names: readonly string[]): string[] => [...names].sort();
  return {
    schemaVersion: INSPECT_REPORT_SCHEMA_VERSION,
    file,
    size,
    sha256,
    format: info.format,
    bits: info.bits,
    endian: info.endian,
    arch: info.arch,
    machine: info.machine,
    sharedLibrary: info.isSharedLibrary,
    universalSlices: universalSlices === undefined ? null : [...universalSlices],
    napi: {
      fromCode: info.declaredNapiFromCode ?? null,
      fromInfoBlock: Number.isInteger(napiFromInfo) && napiFromInfo > 0 ? napiFromInfo : null,
    },
    infoBlock: info.infoBlock === undefined ? null : {
      fields: { ...info.infoBlock.fields }, unknownKeys: [...info.infoBlock.unknownKeys], problems: [...info.infoBlock.problems],
    },
    exports: sorted(info.exports),
    imports: {
      nodeApi: sorted(info.imports.filter((n) => NODE_API_SYMBOL.test(n))),
      other: sorted(info.imports.filter((n) => !NODE_API_SYMBOL.test(n))).map((name) => {
        const demangled = demangleName(name);
        return { name, demangled: demangled === name ? null : demangled };
      }),
    },
    neededLibraries: [...info.neededLibraries],
  };
}
