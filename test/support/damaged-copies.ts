/**
 * Damaged copies of a valid binary for the readers' robustness tests: truncations (half of them inside
 * the first `headerBytes`, where headers and tables live) and copies with a few bytes overwritten
 * (60% of them inside the first `headerBytes`).
 */
export function damagedCopies(bytes: Uint8Array, random: () => number, perKind: number, headerBytes: number): Uint8Array[] {
  const copies: Uint8Array[] = [];
  for (let i = 0; i < perKind; i++) {
    const limit = i % 2 === 0 ? Math.min(headerBytes, bytes.length) : bytes.length;
    copies.push(bytes.subarray(0, Math.floor(random() * limit)));
  }
  for (let i = 0; i < perKind; i++) {
    const copy = Uint8Array.from(bytes);
    const flips = 1 + Math.floor(random() * 8);
    const region = random() < 0.6 ? Math.min(headerBytes, copy.length) : copy.length;
    for (let j = 0; j < flips; j++) copy[Math.floor(random() * region)] = Math.floor(random() * 256);
    copies.push(copy);
  }
  return copies;
}

/**
 * Runs `parse`, catching what it throws, and times it; a run over `boundMs` is timed once more, since a
 * garbage collection or a busy machine can stall one parse while a slow input is slow every time.
 */
export function timedParse(parse: () => unknown, boundMs: number): { outcome: unknown; elapsed: number } {
  const once = (): { outcome: unknown; elapsed: number } => {
    const started = performance.now();
    let outcome: unknown;
    try {
      outcome = parse();
    } catch (error) {
      outcome = error;
    }
    return { outcome, elapsed: performance.now() - started };
  };
  const first = once();
  return first.elapsed < boundMs ? first : once();
}
