/**
 * The target the host checks against when nobody says otherwise: the running process.
 */

import type { CheckTarget } from './types';

/** erpmod ABI majors this host accepts (native-abi.md: today, exactly 1). */
export const SUPPORTED_ERPMOD_ABIS: readonly number[] = [1];

export function defaultCheckTarget(): CheckTarget {
  return {
    platform: process.platform,
    arch: process.arch,
    // Undefined only on a Node without Node-API, which cannot run the host anyway.
    maxNapi: Number(process.versions.napi ?? 0),
    erpmodAbis: SUPPORTED_ERPMOD_ABIS,
  };
}

/** `linux-x64` for a target. */
export function platformKeyOf(target: Pick<CheckTarget, 'platform' | 'arch'>): string {
  return `${target.platform}-${target.arch}`;
}
