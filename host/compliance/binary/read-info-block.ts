/**
 * The erpmod info block (native-abi.md §2): NUL-terminated UTF-8 `key=value` lines, first line
 * `erpmod_info=1`. The bytes come from an untrusted binary, so this never throws: every oddity becomes a
 * sentence in `problems` (or a name in `unknownKeys`) and the rules decide what it costs.
 */

import type { InfoBlock } from '../types';

/** The block may not be larger than this, terminator included. */
export const INFO_BLOCK_MAX_BYTES = 4096;

export const INFO_BLOCK_REQUIRED_KEYS = ['erpmod_info', 'erpmod_abi', 'code', 'version', 'napi', 'sdk'] as const;

/** Keys the SDK may add beyond the required ones; anything else is reported as unknown. */
export const INFO_BLOCK_OPTIONAL_KEYS = ['name', 'vendor', 'description', 'build'] as const;

const KNOWN_KEYS: ReadonlySet<string> = new Set([...INFO_BLOCK_REQUIRED_KEYS, ...INFO_BLOCK_OPTIONAL_KEYS]);
const KEY_PATTERN = /^[a-z][a-z0-9_]*$/;
const POSITIVE_INTEGER = /^[1-9][0-9]{0,8}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses the contents of a `.erpmod` / `__erpmod` section. The section may be longer than the block
 * (alignment padding); bytes after the terminator must be zero, else two blocks were linked in.
 */
export function readInfoBlock(section: Uint8Array): InfoBlock {
  const problems: string[] = [];
  const window = section.subarray(0, INFO_BLOCK_MAX_BYTES);
  let end = window.indexOf(0);
  if (end < 0) {
    problems.push(section.length > INFO_BLOCK_MAX_BYTES
      ? `the info block is not NUL-terminated within ${INFO_BLOCK_MAX_BYTES} bytes`
      : 'the info block is not NUL-terminated');
    end = window.length;
  } else if (hasNonZero(section, end + 1)) {
    problems.push('the info block section holds data after the first block\'s terminator (more than one block linked in?)');
  }

  let raw: string;
  try {
    raw = utf8.decode(window.subarray(0, end));
  } catch {
    problems.push('the info block is not valid UTF-8');
    raw = Array.from(window.subarray(0, end), (b) => (b < 0x80 ? String.fromCharCode(b) : '\uFFFD')).join('');
  }
  return { raw, ...parseLines(raw, problems) };
}

function parseLines(raw: string, problems: string[]): Pick<InfoBlock, 'fields' | 'unknownKeys' | 'problems'> {
  const fields: Record<string, string> = Object.create(null) as Record<string, string>;
  const unknownKeys: string[] = [];
  // A trailing newline is customary; a blank line in the middle is not, but harmless.
  const lines = raw.split('\n');
  lines.forEach((rawLine, index) => {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line === '') return;
    const where = `line ${index + 1}`;
    const eq = line.indexOf('=');
    if (eq <= 0) {
      problems.push(`${where}: expected key=value, got ${JSON.stringify(truncate(line))}`);
      return;
    }
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (!KEY_PATTERN.test(key)) {
      problems.push(`${where}: key ${JSON.stringify(truncate(key))} is not lowercase snake_case`);
      return;
    }
    if (/[\u0000-\u001f\u007f]/.test(value)) {
      problems.push(`${where}: value of ${key} contains control characters`);
      return;
    }
    if (Object.prototype.hasOwnProperty.call(fields, key)) {
      problems.push(`${where}: duplicate key ${key} (first value ${JSON.stringify(fields[key])} kept)`);
      return;
    }
    if (index === 0 && key !== 'erpmod_info') {
      problems.push(`line 1: expected erpmod_info=1, got ${JSON.stringify(truncate(line))}`);
    }
    fields[key] = value;
    if (!KNOWN_KEYS.has(key)) unknownKeys.push(key);
  });

  if (fields.erpmod_info !== undefined && fields.erpmod_info !== '1') {
    problems.push(`erpmod_info: expected 1, got ${JSON.stringify(fields.erpmod_info)} (a block format this reader does not know)`);
  }
  for (const key of ['erpmod_abi', 'napi'] as const) {
    const value = fields[key];
    if (value !== undefined && !POSITIVE_INTEGER.test(value)) {
      problems.push(`${key}: expected a positive integer, got ${JSON.stringify(truncate(value))}`);
    }
  }
  const missing = INFO_BLOCK_REQUIRED_KEYS.filter((key) => fields[key] === undefined);
  if (missing.length > 0) problems.push(`missing required key${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}`);
  return { fields: { ...fields }, unknownKeys, problems };
}

/** A positive integer field of the block, or undefined when absent or malformed. */
export function infoBlockInteger(block: InfoBlock | undefined, key: string): number | undefined {
  const value = block?.fields[key];
  return value !== undefined && POSITIVE_INTEGER.test(value) ? Number(value) : undefined;
}

function hasNonZero(bytes: Uint8Array, from: number): boolean {
  for (let i = from; i < bytes.length; i++) if (bytes[i] !== 0) return true;
  return false;
}

function truncate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
