/**
 * The architectures in a universal (fat) Mach-O header, for `erpmod inspect` to say which slice it shows
 * and which others exist. Reads only the bounded header; anything odd yields undefined and leaves the
 * verdict to the binary reader.
 */

const FAT_MAGIC = 0xcafebabe;
const FAT_MAGIC_64 = 0xcafebabf;
const FAT_CIGAM = 0xbebafeca;
const FAT_CIGAM_64 = 0xbfbafeca;
const MAX_SLICES = 64;

const CPU_NAMES: ReadonlyMap<number, string> = new Map([
  [0x01000007, 'x64'], [0x0100000c, 'arm64'], [7, 'ia32'], [12, 'arm'], [0x01000012, 'ppc64'],
]);

export function listUniversalSlices(bytes: Uint8Array): string[] | undefined {
  if (bytes.length < 8) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== FAT_MAGIC && magic !== FAT_MAGIC_64 && magic !== FAT_CIGAM && magic !== FAT_CIGAM_64) return undefined;
  const little = magic === FAT_CIGAM || magic === FAT_CIGAM_64;
  const entrySize = magic === FAT_MAGIC_64 || magic === FAT_CIGAM_64 ? 32 : 20;
  const count = view.getUint32(4, little);
  if (count === 0 || count > MAX_SLICES || 8 + count * entrySize > bytes.length) return undefined;
  return Array.from({ length: count }, (_, i) => {
    const cputype = view.getUint32(8 + i * entrySize, little);
    return CPU_NAMES.get(cputype) ?? `cputype 0x${cputype.toString(16)}`;
  });
}
