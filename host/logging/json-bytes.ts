/**
 * Writers of JSON text straight into a byte buffer, for the access log: each takes the buffer and the
 * offset to write at and returns the offset after what it wrote. No string is built, so a logged
 * request leaves no garbage behind, and a short field costs a loop over its characters rather than a
 * call into C++. The caller makes sure there is room (`jsonStringBound` says how much a string can take).
 */

/** Bytes a string written by `writeJsonStringBody` can take at most (`\u00XX` is 6 bytes per character). */
export function jsonStringBound(text: string): number {
  return text.length * 6;
}

/** A string known to be ASCII without characters JSON escapes (a token, a request id, a checked name). */
export function writeAscii(buffer: Buffer, at: number, text: string): number {
  for (let i = 0; i < text.length; i++) buffer[at++] = text.charCodeAt(i);
  return at;
}

/** Bytes copied as they are (a prefix encoded once). */
export function writeBytes(buffer: Buffer, at: number, bytes: Uint8Array): number {
  // TypedArray#set is a memcpy without a call into C++; below a few bytes the loop is cheaper.
  if (bytes.length > 16) buffer.set(bytes, at);
  else for (let i = 0; i < bytes.length; i++) buffer[at + i] = bytes[i]!;
  return at + bytes.length;
}

const HEX = '0123456789abcdef';
/** JSON.stringify's short escapes for control characters; 0 where it writes `\u00XX`. */
const SHORT_ESCAPE = new Uint8Array(0x20);
SHORT_ESCAPE[0x08] = 0x62; // \b
SHORT_ESCAPE[0x09] = 0x74; // \t
SHORT_ESCAPE[0x0a] = 0x6e; // \n
SHORT_ESCAPE[0x0c] = 0x66; // \f
SHORT_ESCAPE[0x0d] = 0x72; // \r

/**
 * The inside of a JSON string (no quotes), escaped as JSON.stringify escapes it (well-formed: a lone
 * surrogate becomes `\udXXX`) and encoded as UTF-8.
 */
export function writeJsonStringBody(buffer: Buffer, at: number, text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x20 && c < 0x80) {
      if (c === 0x22 || c === 0x5c) buffer[at++] = 0x5c;
      buffer[at++] = c;
    } else if (c < 0x20) {
      buffer[at++] = 0x5c;
      const short = SHORT_ESCAPE[c]!;
      if (short !== 0) buffer[at++] = short;
      else at = writeUnicodeEscape(buffer, at, c);
    } else if (c < 0x800) {
      buffer[at++] = 0xc0 | (c >> 6);
      buffer[at++] = 0x80 | (c & 0x3f);
    } else if (c < 0xd800 || c > 0xdfff) {
      at = writeThreeByteUtf8(buffer, at, c);
    } else {
      const next = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        const point = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        buffer[at++] = 0xf0 | (point >> 18);
        buffer[at++] = 0x80 | ((point >> 12) & 0x3f);
        buffer[at++] = 0x80 | ((point >> 6) & 0x3f);
        buffer[at++] = 0x80 | (point & 0x3f);
        i++;
      } else {
        buffer[at++] = 0x5c;
        at = writeUnicodeEscape(buffer, at, c);
      }
    }
  }
  return at;
}

/** `uXXXX` in lower-case hex (the backslash is written by the caller). */
function writeUnicodeEscape(buffer: Buffer, at: number, c: number): number {
  buffer[at++] = 0x75; // u
  for (let shift = 12; shift >= 0; shift -= 4) buffer[at++] = HEX.charCodeAt((c >> shift) & 15);
  return at;
}

function writeThreeByteUtf8(buffer: Buffer, at: number, c: number): number {
  buffer[at++] = 0xe0 | (c >> 12);
  buffer[at++] = 0x80 | ((c >> 6) & 0x3f);
  buffer[at++] = 0x80 | (c & 0x3f);
  return at;
}

/** A non-negative integer below 2^31 in decimal. */
function writeUnsigned(buffer: Buffer, at: number, value: number): number {
  if (value < 10) {
    buffer[at] = 0x30 + value;
    return at + 1;
  }
  let digits = 1;
  for (let rest = value; rest >= 10; rest = (rest / 10) | 0) digits++;
  let end = at + digits;
  for (let rest = value; end > at; rest = (rest / 10) | 0) buffer[--end] = 0x30 + (rest % 10);
  return at + digits;
}

/**
 * `String(Math.round(ms * 1000) / 1000)` for the durations a request takes, written from integers:
 * a double's shortest decimal form costs a few hundred ns, and the line needs it twice.
 */
export function writeMilliseconds(buffer: Buffer, at: number, ms: number): number {
  const micros = Math.round(ms * 1000);
  if (!(micros >= 0 && micros < 2 ** 31)) return writeAscii(buffer, at, String(micros / 1000));
  const whole = (micros / 1000) | 0;
  let fraction = micros - whole * 1000;
  at = writeUnsigned(buffer, at, whole);
  if (fraction === 0) return at;
  buffer[at++] = 0x2e; // .
  // Up to three digits, trailing zeros dropped.
  const hundreds = (fraction / 100) | 0;
  buffer[at++] = 0x30 + hundreds;
  fraction -= hundreds * 100;
  if (fraction === 0) return at;
  const tens = (fraction / 10) | 0;
  buffer[at++] = 0x30 + tens;
  fraction -= tens * 10;
  if (fraction === 0) return at;
  buffer[at++] = 0x30 + fraction;
  return at;
}
