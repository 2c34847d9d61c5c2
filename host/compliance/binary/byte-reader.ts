/**
 * Bounded reads over an untrusted buffer. Every read checks its bounds and throws MalformedBinary, which
 * readBinary turns into an `ok: false` result: a hostile file can make a reader give up, never read
 * outside the buffer or make it loop on a forged count.
 */

/** Thrown by the binary readers on malformed input; never escapes readBinary. */
export class MalformedBinary extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedBinary';
  }
}

/** Caps on attacker-controlled counts, so a forged header cannot make a reader allocate or spin. */
export const LIMITS = {
  maxSymbols: 1_000_000,
  maxSections: 65_535,
  maxStringBytes: 4096,
  maxDynamicEntries: 100_000,
  maxLoadCommands: 100_000,
  maxImports: 1_000_000,
} as const;

export type Endian = 'little' | 'big';

export class ByteReader {
  readonly bytes: Uint8Array;
  readonly endian: Endian;
  private readonly view: DataView;
  private readonly little: boolean;

  constructor(bytes: Uint8Array, endian: Endian = 'little') {
    this.bytes = bytes;
    this.endian = endian;
    this.little = endian === 'little';
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.length;
  }

  /** The same bytes read with another byte order (ELF and Mach-O learn it from the header). */
  withEndian(endian: Endian): ByteReader {
    return endian === this.endian ? this : new ByteReader(this.bytes, endian);
  }

  /** Throws unless [offset, offset + size) lies inside the buffer. */
  check(offset: number, size: number, what = 'read'): void {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(size) || offset < 0 || size < 0 ||
        offset + size > this.bytes.length) {
      throw new MalformedBinary(`${what} at offset ${offset} (${size} bytes) is outside the file (${this.bytes.length} bytes)`);
    }
  }

  u8(offset: number): number {
    this.check(offset, 1);
    return this.view.getUint8(offset);
  }

  u16(offset: number): number {
    this.check(offset, 2);
    return this.view.getUint16(offset, this.little);
  }

  u32(offset: number): number {
    this.check(offset, 4);
    return this.view.getUint32(offset, this.little);
  }

  i32(offset: number): number {
    this.check(offset, 4);
    return this.view.getInt32(offset, this.little);
  }

  /** A 64-bit field as a number; values past 2^53 cannot be a real offset or size here, so they are malformed. */
  u64(offset: number): number {
    this.check(offset, 8);
    // Two 32-bit halves rather than BigInt: symbol tables read this a million times.
    const low = this.view.getUint32(this.little ? offset : offset + 4, this.little);
    const high = this.view.getUint32(this.little ? offset + 4 : offset, this.little);
    if (high > 0x1fffff) {
      throw new MalformedBinary(`64-bit value at offset ${offset} is too large to be an offset or size`);
    }
    return high * 0x1_0000_0000 + low;
  }

  /** A 32- or 64-bit word, as ELF32/ELF64 and Mach-O 32/64 need. */
  word(offset: number, bits: 32 | 64): number {
    return bits === 64 ? this.u64(offset) : this.u32(offset);
  }

  /** A view (not a copy) of [offset, offset + size). */
  slice(offset: number, size: number, what = 'slice'): Uint8Array {
    this.check(offset, size, what);
    return this.bytes.subarray(offset, offset + size);
  }

  /**
   * A NUL-terminated string starting at offset, at most maxBytes long and not past `end`.
   * An unterminated string is malformed rather than silently truncated.
   */
  cstring(offset: number, end: number = this.bytes.length, maxBytes: number = LIMITS.maxStringBytes): string {
    const limit = Math.min(end, this.bytes.length, offset + maxBytes + 1);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset >= limit) {
      throw new MalformedBinary(`string at offset ${offset} is outside its table`);
    }
    for (let i = offset; i < limit; i++) {
      if (this.bytes[i] === 0) return decodeLatin1OrUtf8(this.bytes.subarray(offset, i));
    }
    throw new MalformedBinary(`string at offset ${offset} is not NUL-terminated within ${maxBytes} bytes`);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Symbol names are bytes; decode as UTF-8 when valid so messages stay readable, else byte by byte. */
function decodeLatin1OrUtf8(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    let out = '';
    for (const b of bytes) out += String.fromCharCode(b);
    return out;
  }
}

/** Throws MalformedBinary when a count from the file exceeds what a real binary would hold. */
export function capCount(count: number, max: number, what: string): number {
  if (!Number.isSafeInteger(count) || count < 0 || count > max) {
    throw new MalformedBinary(`${what} count ${count} exceeds the limit of ${max}`);
  }
  return count;
}
