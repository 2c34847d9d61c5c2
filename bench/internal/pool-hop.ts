/**
 * The execution pool's mechanisms in isolation (docs/decisions.md): one request's hop to a worker thread
 * and back through the SDK's pool and through Node-API async work on libuv's pool, and one ctx call
 * carried from a pool thread to the JavaScript thread. Compiled on the spot against the SDK headers.
 */
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { nodeHeadersDir } from '../../scripts/build-modules';
import { ROOT } from '../lib/paths';

export interface PoolHopResult {
  readonly sdkPoolUs: number;
  readonly asyncWorkUs: number;
  readonly ctxCallUs: number;
  /** Concurrent hops (64 in flight): requests per second through each. */
  readonly sdkPoolPerSecond: number;
  readonly asyncWorkPerSecond: number;
}

interface HopAddon {
  viaSdkPool(): Promise<void>;
  viaAsyncWork(): Promise<void>;
  callsFromPool(n: number): Promise<number>;
}

export async function measurePoolHop(workDir: string, iterations: number): Promise<PoolHopResult> {
  const output = path.join(workDir, 'pool-hop.node');
  const addonApi = path.dirname(require.resolve('node-addon-api/package.json', { paths: [ROOT] }));
  execFileSync('c++', [
    '-shared', '-fPIC', '-O2', '-std=gnu++17', '-fvisibility=hidden', '-DNAPI_VERSION=8',
    '-I', nodeHeadersDir(), '-I', addonApi, '-I', path.join(ROOT, 'native-sdk', 'include'),
    path.join(ROOT, 'bench', 'internal', 'pool-hop.cc'), '-o', output,
  ]);
  const holder = { exports: {} as HopAddon };
  process.dlopen(holder, output, os.constants.dlopen.RTLD_NOW);
  const addon = holder.exports;
  // The addon's thread-safe function does not keep the event loop alive; this does, while measuring.
  const keepAlive = setInterval(() => undefined, 1000);
  try {
    return await measure(addon, iterations);
  } finally {
    clearInterval(keepAlive);
  }
}

async function measure(addon: HopAddon, iterations: number): Promise<PoolHopResult> {

  const sequential = async (hop: () => Promise<void>): Promise<number> => {
    for (let i = 0; i < 1000; i++) await hop();
    const started = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) await hop();
    return Number(process.hrtime.bigint() - started) / iterations / 1000;
  };
  const concurrent = async (hop: () => Promise<void>): Promise<number> => {
    const started = performance.now();
    let left = iterations;
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (left-- > 0) await hop();
    }));
    return iterations / ((performance.now() - started) / 1000);
  };
  // Alternated, medians of three, so a slow spell hits both.
  const sdk: number[] = [];
  const work: number[] = [];
  const sdkRate: number[] = [];
  const workRate: number[] = [];
  for (let round = 0; round < 3; round++) {
    sdk.push(await sequential(() => addon.viaSdkPool()));
    work.push(await sequential(() => addon.viaAsyncWork()));
    sdkRate.push(await concurrent(() => addon.viaSdkPool()));
    workRate.push(await concurrent(() => addon.viaAsyncWork()));
  }
  const calls: number[] = [];
  for (let round = 0; round < 3; round++) calls.push((await addon.callsFromPool(iterations)) / 1000);
  return {
    sdkPoolUs: mid(sdk),
    asyncWorkUs: mid(work),
    ctxCallUs: mid(calls),
    sdkPoolPerSecond: mid(sdkRate),
    asyncWorkPerSecond: mid(workRate),
  };
}

function mid(values: number[]): number {
  return [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
}
