/**
 * Reads a V8 .cpuprofile (what `node --cpu-prof` writes): self time per function, self time per source
 * file, and inclusive time of chosen functions (a sample counts once for every distinct function on its
 * stack). Percentages are of the samples in which the process was busy (idle excluded).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './paths';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileEntry {
  readonly name: string;
  readonly location: string;
  readonly percent: number;
}

export interface ProfileSummary {
  readonly busySamples: number;
  readonly idlePercent: number;
  readonly durationMs: number;
  readonly topFunctions: ProfileEntry[];
  readonly byFile: ProfileEntry[];
  readonly inclusive: ProfileEntry[];
}

/** One sample of a profile: its leaf node, when it was taken, and the time it stands for (µs). */
interface Sample {
  readonly node: ProfileNode;
  readonly at: number;
  readonly weight: number;
}

interface ReadProfile {
  readonly byId: ReadonlyMap<number, ProfileNode>;
  readonly parent: ReadonlyMap<number, number>;
  readonly samples: Sample[];
}

/** The profile's nodes and samples; `windowMs`: keep only samples taken this long after it started. */
function readProfile(file: string, windowMs?: { from: number; to: number }): ReadProfile {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  // Time per sample: the delta to the next sample (the last one gets the average).
  const deltas = profile.timeDeltas;
  const average = (profile.endTime - profile.startTime) / Math.max(1, profile.samples.length);
  const samples: Sample[] = [];
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += deltas[i] ?? 0;
    const since = (at - profile.startTime) / 1000;
    if (windowMs !== undefined && (since < windowMs.from || since > windowMs.to)) continue;
    const node = byId.get(profile.samples[i]!);
    if (node !== undefined) samples.push({ node, at, weight: i + 1 < deltas.length ? Math.max(0, deltas[i + 1]!) : average });
  }
  return { byId, parent, samples };
}

const isIdle = (node: ProfileNode): boolean => node.callFrame.functionName === '(idle)';

/** A sample's stack, leaf first, each frame with its label (`name@location`). */
function* stackFrames(profile: ReadProfile, leaf: ProfileNode): Generator<{ name: string; location: string; label: string }> {
  for (let id: number | undefined = leaf.id; id !== undefined; id = profile.parent.get(id)) {
    const { name, location } = describeFrame(profile.byId.get(id)!);
    yield { name, location, label: `${name}@${location}` };
  }
}

/**
 * The percentage of busy time whose stack passes through any function matching `pattern` (a sample
 * counts once however many such frames it has): what a part of the code costs with all it calls.
 */
export function shareOfStacksThrough(file: string, pattern: RegExp, windowMs?: { from: number; to: number }): number {
  const profile = readProfile(file, windowMs);
  let busy = 0;
  let through = 0;
  for (const sample of profile.samples) {
    if (isIdle(sample.node)) continue;
    busy += sample.weight;
    for (const { label } of stackFrames(profile, sample.node)) {
      if (!pattern.test(label)) continue;
      through += sample.weight;
      break;
    }
  }
  return busy === 0 ? 0 : (100 * through) / busy;
}

/** `windowMs`: keep only samples taken this long after the profile started (e.g. the load, not the boot). */
export function summariseCpuProfile(file: string, inclusiveOf: readonly RegExp[], top = 20, windowMs?: { from: number; to: number }): ProfileSummary {
  const profile = readProfile(file, windowMs);
  const self = new Map<string, { name: string; location: string; time: number }>();
  const files = new Map<string, number>();
  const inclusive = new Map<string, { name: string; location: string; time: number }>();
  let busy = 0;
  let idle = 0;
  let busySamples = 0;
  let first = Number.POSITIVE_INFINITY;
  let last = 0;
  for (const { node, at, weight: t } of profile.samples) {
    first = Math.min(first, at);
    last = Math.max(last, at);
    if (isIdle(node)) {
      idle += t;
      continue;
    }
    busy += t;
    busySamples++;
    const { name, location, file: fileName } = describeFrame(node);
    const key = `${name}@${location}`;
    const entry = self.get(key) ?? { name, location, time: 0 };
    entry.time += t;
    self.set(key, entry);
    files.set(fileName, (files.get(fileName) ?? 0) + t);

    const seen = new Set<string>();
    for (const { name: frameName, location: frameLocation, label } of stackFrames(profile, node)) {
      if (seen.has(label) || !inclusiveOf.some((pattern) => pattern.test(label))) continue;
      seen.add(label);
      const acc = inclusive.get(label) ?? { name: frameName, location: frameLocation, time: 0 };
      acc.time += t;
      inclusive.set(label, acc);
    }
  }
  const pct = (time: number): number => (busy === 0 ? 0 : (100 * time) / busy);
  const sorted = <T extends { time: number }>(values: Iterable<T>): T[] => [...values].sort((a, b) => b.time - a.time);
  return {
    busySamples,
    idlePercent: busy + idle === 0 ? 0 : (100 * idle) / (busy + idle),
    durationMs: last > first ? (last - first) / 1000 : 0,
    topFunctions: sorted(self.values()).slice(0, top).map((e) => ({ name: e.name, location: e.location, percent: pct(e.time) })),
    byFile: sorted([...files].map(([name, time]) => ({ name, time }))).slice(0, top).map((e) => ({ name: e.name, location: '', percent: pct(e.time) })),
    inclusive: sorted(inclusive.values()).map((e) => ({ name: e.name, location: e.location, percent: pct(e.time) })),
  };
}

function describeFrame(node: ProfileNode): { name: string; location: string; file: string } {
  const { functionName, url, lineNumber } = node.callFrame;
  const name = functionName === '' ? '(anonymous)' : functionName;
  if (url === '') return { name, location: '', file: name.startsWith('(') ? name : '(native)' };
  const file = shortFile(url);
  return { name, location: `${file}:${lineNumber + 1}`, file };
}

function shortFile(url: string): string {
  const plain = url.startsWith('file://') ? url.slice('file://'.length) : url;
  if (plain.startsWith('node:')) return plain;
  const modules = plain.lastIndexOf('/node_modules/');
  if (modules !== -1) return plain.slice(modules + 1);
  return path.isAbsolute(plain) ? path.relative(ROOT, plain) : plain;
}
