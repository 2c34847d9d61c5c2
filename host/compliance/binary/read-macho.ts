/**
 * Mach-O reader for the static phase: thin 32/64-bit files in either byte order, and fat (universal)
 * files, from which one slice is read. The bytes are untrusted: every read goes through ByteReader's
 * bounds checks, every count is capped, and the export trie is walked with an explicit stack and a
 * visited set, so a hostile file ends in a MalformedBinary, never a hang or a read outside the buffer.
 */

import type { Arch, BinaryInfo } from '../types';
import { ByteReader, LIMITS, MalformedBinary, capCount } from './byte-reader';
import { readInfoBlock } from './read-info-block';
import { NAPI_CODE_WINDOW, NAPI_VERSION_SYMBOL, matchConstantReturn } from './read-napi-version-from-code';

export interface ReadMachOOptions {
  /** Which slice of a universal file to read (`x64`, `arm64`, ...); the first slice when absent. */
  readonly arch?: string;
}

const MH_MAGIC = 0xfeedface;
const MH_MAGIC_64 = 0xfeedfacf;
const MH_CIGAM = 0xcefaedfe;
const MH_CIGAM_64 = 0xcffaedfe;
const FAT_MAGIC = 0xcafebabe;
const FAT_MAGIC_64 = 0xcafebabf;
const FAT_CIGAM = 0xbebafeca;
const FAT_CIGAM_64 = 0xbfbafeca;

const MH_DYLIB = 6;
const MH_BUNDLE = 8;

const LC_SEGMENT = 0x1;
const LC_SYMTAB = 0x2;
const LC_LOAD_DYLIB = 0xc;
const LC_SEGMENT_64 = 0x19;
const LC_LAZY_LOAD_DYLIB = 0x20;
const LC_DYLD_INFO = 0x22;
const LC_LOAD_WEAK_DYLIB = 0x80000018;
const LC_REEXPORT_DYLIB = 0x8000001f;
const LC_DYLD_INFO_ONLY = 0x80000022;
const LC_LOAD_UPWARD_DYLIB = 0x80000023;
const LC_DYLD_EXPORTS_TRIE = 0x80000033;
const DYLIB_COMMANDS: ReadonlySet<number> = new Set([
  LC_LOAD_DYLIB, LC_LOAD_WEAK_DYLIB, LC_REEXPORT_DYLIB, LC_LAZY_LOAD_DYLIB, LC_LOAD_UPWARD_DYLIB,
]);

const N_STAB = 0xe0;
const N_PEXT = 0x10;
const N_TYPE = 0x0e;
const N_EXT = 0x01;
const N_UNDF = 0x0;
const S_ZEROFILL = 0x1;
const EXPORT_SYMBOL_FLAGS_REEXPORT = 0x08;
const EXPORT_SYMBOL_FLAGS_STUB_AND_RESOLVER = 0x10;

const MAX_FAT_ARCHES = 64;
/** Tighter than LIMITS.maxLoadCommands: a real dylib has a few dozen. */
const MAX_LOAD_COMMANDS = 10_000;
const MAX_TRIE_DEPTH = 128;
const MAX_TRIE_NODES = 1_000_000;
/** Names may overlap in a forged string table (every suffix of one long string): cap the bytes decoded. */
const MAX_NAME_BYTES_TOTAL = 32 * 1024 * 1024;

const CPU_ARCH: ReadonlyMap<number, Arch> = new Map<number, Arch>([
  [0x01000007, 'x64'],
  [0x0100000c, 'arm64'],
  [7, 'ia32'],
  [12, 'arm'],
  [0x01000012, 'ppc64'],
]);

/** Parses a Mach-O file (thin or universal) into what the compliance rules need. */
export function readMachO(bytes: Uint8Array, options: ReadMachOOptions = {}): BinaryInfo {
  const magic = new ByteReader(bytes, 'big').u32(0);
  if (magic === FAT_MAGIC || magic === FAT_MAGIC_64 || magic === FAT_CIGAM || magic === FAT_CIGAM_64) {
    return readThin(selectFatSlice(bytes, magic, options.arch));
  }
  return readThin(bytes);
}

function archOf(cputype: number): Arch {
  return CPU_ARCH.get(cputype >>> 0) ?? 'unknown';
}

function describeCpu(cputype: number): string {
  const arch = archOf(cputype);
  return arch === 'unknown' ? `cputype 0x${(cputype >>> 0).toString(16)}` : arch;
}

/** Universal headers are big-endian by definition; the byte-swapped magics are accepted as little-endian. */
function selectFatSlice(bytes: Uint8Array, magic: number, wanted: string | undefined): Uint8Array {
  const reader = new ByteReader(bytes, magic === FAT_CIGAM || magic === FAT_CIGAM_64 ? 'little' : 'big');
  const is64 = magic === FAT_MAGIC_64 || magic === FAT_CIGAM_64;
  const count = capCount(reader.u32(4), MAX_FAT_ARCHES, 'Mach-O universal slice');
  if (count === 0) throw new MalformedBinary('Mach-O: universal file has no slices');
  const entrySize = is64 ? 32 : 20;
  reader.check(8, count * entrySize, 'Mach-O universal slice table');
  const slices: { cputype: number; offset: number; size: number }[] = [];
  for (let i = 0; i < count; i++) {
    const at = 8 + i * entrySize;
    slices.push({
      cputype: reader.u32(at),
      offset: is64 ? reader.u64(at + 8) : reader.u32(at + 8),
      size: is64 ? reader.u64(at + 16) : reader.u32(at + 12),
    });
  }
  const chosen = wanted === undefined ? slices[0]! : slices.find((s) => archOf(s.cputype) === wanted);
  if (chosen === undefined) {
    throw new MalformedBinary(
      `Mach-O: universal file has no ${wanted} slice; slices present: ${slices.map((s) => describeCpu(s.cputype)).join(', ')}`,
    );
  }
  const slice = reader.slice(chosen.offset, chosen.size, `Mach-O ${describeCpu(chosen.cputype)} slice`);
  const inner = new ByteReader(slice, 'big').u32(0);
  if (inner === FAT_MAGIC || inner === FAT_MAGIC_64 || inner === FAT_CIGAM || inner === FAT_CIGAM_64) {
    throw new MalformedBinary('Mach-O: a universal slice is itself a universal file');
  }
  return slice;
}

interface Segment {
  readonly name: string;
  readonly vmaddr: number;
  readonly vmsize: number;
  readonly fileoff: number;
  readonly filesize: number;
}

interface Section {
  readonly segname: string;
  readonly sectname: string;
  readonly size: number;
  readonly offset: number;
  readonly flags: number;
}

interface SymtabCommand {
  readonly symoff: number;
  readonly nsyms: number;
  readonly stroff: number;
  readonly strsize: number;
}

interface LoadCommands {
  readonly segments: Segment[];
  readonly sections: Section[];
  symtab: SymtabCommand | undefined;
  readonly exportTries: { readonly off: number; readonly size: number }[];
  readonly dylibs: string[];
}

function readThin(bytes: Uint8Array): BinaryInfo {
  const magic = new ByteReader(bytes, 'little').u32(0);
  let endian: 'little' | 'big';
  if (magic === MH_MAGIC || magic === MH_MAGIC_64) endian = 'little';
  else if (magic === MH_CIGAM || magic === MH_CIGAM_64) endian = 'big';
  else throw new MalformedBinary(`Mach-O: bad magic 0x${magic.toString(16).padStart(8, '0')}`);
  const bits: 32 | 64 = magic === MH_MAGIC_64 || magic === MH_CIGAM_64 ? 64 : 32;
  const reader = new ByteReader(bytes, endian);
  const headerSize = bits === 64 ? 32 : 28;
  reader.check(0, headerSize, 'Mach-O header');
  const cputype = reader.u32(4);
  const filetype = reader.u32(12);
  const ncmds = capCount(reader.u32(16), MAX_LOAD_COMMANDS, 'Mach-O load command');
  const sizeofcmds = reader.u32(20);
  reader.check(headerSize, sizeofcmds, 'Mach-O load commands');

  const commands = readLoadCommands(reader, headerSize, ncmds, sizeofcmds);
  const budget: NameBudget = { bytes: 0 };
  const symbols = commands.symtab === undefined ? undefined : readSymbols(reader, bits, commands.symtab, budget);
  const exports = new Set<string>(symbols?.exports.keys());
  const trieAddresses = new Map<string, number | undefined>();
  for (const trie of commands.exportTries) {
    for (const [name, address] of readExportTrie(reader.slice(trie.off, trie.size, 'Mach-O export trie'), budget)) {
      const plain = stripUnderscore(name);
      exports.add(plain);
      if (!trieAddresses.has(plain)) trieAddresses.set(plain, address);
    }
  }
  const arch = archOf(cputype);
  const text = commands.segments.find((s) => s.name === '__TEXT');
  const trieAddress = trieAddresses.get(NAPI_VERSION_SYMBOL);
  const versionAddress = symbols?.exports.get(NAPI_VERSION_SYMBOL)
    ?? (trieAddress !== undefined && text !== undefined ? text.vmaddr + trieAddress : undefined);
  return {
    format: 'macho',
    bits,
    endian,
    arch,
    machine: cputype >>> 0,
    isSharedLibrary: filetype === MH_DYLIB || filetype === MH_BUNDLE,
    exports: [...exports],
    imports: symbols === undefined ? [] : [...symbols.imports],
    neededLibraries: commands.dylibs,
    infoBlock: readMachOInfoBlock(reader, commands.sections),
    declaredNapiFromCode: readDeclaredNapi(bytes, arch, commands.segments, versionAddress),
  };
}

function readLoadCommands(reader: ByteReader, headerSize: number, ncmds: number, sizeofcmds: number): LoadCommands {
  const result: LoadCommands = { segments: [], sections: [], symtab: undefined, exportTries: [], dylibs: [] };
  const end = headerSize + sizeofcmds;
  let at = headerSize;
  for (let i = 0; i < ncmds; i++) {
    if (at + 8 > end) throw new MalformedBinary(`Mach-O: load command ${i} starts past the declared load-command area`);
    const cmd = reader.u32(at);
    const cmdsize = reader.u32(at + 4);
    if (cmdsize < 8 || cmdsize > end - at) {
      throw new MalformedBinary(`Mach-O: load command ${i} (0x${cmd.toString(16)}) has size ${cmdsize}, outside the load-command area`);
    }
    const need = (size: number, what: string): void => {
      if (cmdsize < size) throw new MalformedBinary(`Mach-O: ${what} load command is ${cmdsize} bytes, expected at least ${size}`);
    };
    if (cmd === LC_SEGMENT || cmd === LC_SEGMENT_64) {
      // Each segment command carries its own width; a mismatch with the header is odd but harmless.
      readSegment(reader, at, cmdsize, cmd === LC_SEGMENT_64 ? 64 : 32, result);
    } else if (cmd === LC_SYMTAB) {
      need(24, 'LC_SYMTAB');
      result.symtab = { symoff: reader.u32(at + 8), nsyms: reader.u32(at + 12), stroff: reader.u32(at + 16), strsize: reader.u32(at + 20) };
    } else if (cmd === LC_DYLD_INFO || cmd === LC_DYLD_INFO_ONLY) {
      need(48, 'LC_DYLD_INFO');
      const size = reader.u32(at + 44);
      if (size > 0) result.exportTries.push({ off: reader.u32(at + 40), size });
    } else if (cmd === LC_DYLD_EXPORTS_TRIE) {
      need(16, 'LC_DYLD_EXPORTS_TRIE');
      const size = reader.u32(at + 12);
      if (size > 0) result.exportTries.push({ off: reader.u32(at + 8), size });
    } else if (DYLIB_COMMANDS.has(cmd)) {
      need(24, 'dylib');
      const nameOffset = reader.u32(at + 8);
      if (nameOffset < 24 || nameOffset >= cmdsize) throw new MalformedBinary(`Mach-O: dylib name offset ${nameOffset} lies outside its load command`);
      result.dylibs.push(reader.cstring(at + nameOffset, at + cmdsize));
    }
    at += cmdsize;
  }
  return result;
}

function readSegment(reader: ByteReader, at: number, cmdsize: number, bits: 32 | 64, into: LoadCommands): void {
  const wide = bits === 64;
  const headerSize = wide ? 72 : 56;
  const sectionSize = wide ? 80 : 68;
  if (cmdsize < headerSize) throw new MalformedBinary(`Mach-O: segment load command is ${cmdsize} bytes, expected at least ${headerSize}`);
  const name = fixedName(reader, at + 8);
  const word = (offset: number): number => reader.word(at + offset, bits);
  into.segments.push(wide
    ? { name, vmaddr: word(24), vmsize: word(32), fileoff: word(40), filesize: word(48) }
    : { name, vmaddr: word(24), vmsize: word(28), fileoff: word(32), filesize: word(36) });
  const nsects = reader.u32(at + (wide ? 64 : 48));
  if (nsects > Math.floor((cmdsize - headerSize) / sectionSize)) {
    throw new MalformedBinary(`Mach-O: segment ${name} claims ${nsects} sections, more than its load command holds`);
  }
  capCount(into.sections.length + nsects, LIMITS.maxSections, 'Mach-O section');
  for (let s = 0; s < nsects; s++) {
    const sa = at + headerSize + s * sectionSize;
    into.sections.push({
      sectname: fixedName(reader, sa),
      segname: fixedName(reader, sa + 16),
      size: reader.word(sa + 32 + (wide ? 8 : 4), bits),
      offset: reader.u32(sa + (wide ? 48 : 40)),
      flags: reader.u32(sa + (wide ? 64 : 56)),
    });
  }
}

/** A 16-byte segment or section name: NUL-padded, not necessarily NUL-terminated. */
function fixedName(reader: ByteReader, offset: number): string {
  const raw = reader.slice(offset, 16, 'Mach-O name');
  let out = '';
  for (const byte of raw) {
    if (byte === 0) break;
    out += String.fromCharCode(byte);
  }
  return out;
}

interface NameBudget {
  bytes: number;
}

function spend(budget: NameBudget, name: string): string {
  budget.bytes += name.length + 1;
  if (budget.bytes > MAX_NAME_BYTES_TOTAL) throw new MalformedBinary(`Mach-O: symbol names total more than ${MAX_NAME_BYTES_TOTAL} bytes`);
  return name;
}

interface Symbols {
  /** Defined external name (leading `_` removed) → n_value. */
  readonly exports: Map<string, number>;
  readonly imports: Set<string>;
}

function readSymbols(reader: ByteReader, bits: 32 | 64, symtab: SymtabCommand, budget: NameBudget): Symbols {
  const { symoff, stroff, strsize } = symtab;
  const nsyms = capCount(symtab.nsyms, LIMITS.maxSymbols, 'Mach-O symbol');
  const entrySize = bits === 64 ? 16 : 12;
  reader.check(symoff, nsyms * entrySize, 'Mach-O symbol table');
  reader.check(stroff, strsize, 'Mach-O string table');
  const exports = new Map<string, number>();
  const imports = new Set<string>();
  for (let i = 0; i < nsyms; i++) {
    const at = symoff + i * entrySize;
    const type = reader.u8(at + 4);
    if ((type & N_STAB) !== 0 || (type & N_EXT) === 0) continue;
    const strx = reader.u32(at);
    if (strx >= strsize) throw new MalformedBinary(`Mach-O: symbol ${i} names string offset ${strx}, past the ${strsize}-byte string table`);
    const name = stripUnderscore(spend(budget, reader.cstring(stroff + strx, stroff + strsize)));
    if (name === '') continue;
    const value = reader.word(at + 8, bits);
    if ((type & N_TYPE) === N_UNDF) {
      // An undefined external with a value is a common symbol the library itself allocates.
      if (value === 0) imports.add(name);
    } else if ((type & N_PEXT) === 0 && !exports.has(name)) {
      exports.set(name, value);
    }
  }
  return { exports, imports };
}

/** Walks a dyld export trie: name → image-relative address, undefined for re-exports and resolvers. */
function readExportTrie(trie: Uint8Array, budget: NameBudget): Map<string, number | undefined> {
  const reader = new ByteReader(trie, 'little');
  // In a well-formed trie every label byte belongs to one edge; nodes overlapping in a forged one could
  // make the walk re-read the same bytes for every node.
  let labelBytes = 0;
  const names = new Map<string, number | undefined>();
  const visited = new Set<number>();
  const stack: { offset: number; prefix: string; depth: number }[] = [{ offset: 0, prefix: '', depth: 0 }];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (visited.has(node.offset)) throw new MalformedBinary(`Mach-O: export trie reaches node ${node.offset} twice (a cycle or shared node)`);
    visited.add(node.offset);
    capCount(visited.size, MAX_TRIE_NODES, 'Mach-O export trie node');
    const cursor = { at: node.offset };
    const terminalSize = readUleb(trie, cursor);
    const childrenAt = cursor.at + terminalSize;
    if (terminalSize > 0) {
      const flags = readUleb(trie, cursor);
      let address: number | undefined;
      if ((flags & EXPORT_SYMBOL_FLAGS_REEXPORT) === 0) {
        address = readUleb(trie, cursor);
        if ((flags & EXPORT_SYMBOL_FLAGS_STUB_AND_RESOLVER) !== 0) address = undefined;
      }
      if (node.prefix !== '') names.set(spend(budget, node.prefix), address);
      capCount(names.size, LIMITS.maxSymbols, 'Mach-O export');
    }
    const childCount = reader.u8(childrenAt);
    cursor.at = childrenAt + 1;
    if (childCount > 0 && node.depth >= MAX_TRIE_DEPTH) throw new MalformedBinary(`Mach-O: export trie deeper than ${MAX_TRIE_DEPTH}`);
    for (let c = 0; c < childCount; c++) {
      const label = reader.cstring(cursor.at, trie.length);
      const labelEnd = trie.indexOf(0, cursor.at);
      labelBytes += labelEnd - cursor.at + 1;
      if (labelBytes > trie.length) throw new MalformedBinary('Mach-O: export trie edges overlap (more label bytes than the trie holds)');
      cursor.at = labelEnd + 1;
      const childOffset = readUleb(trie, cursor);
      if (childOffset >= trie.length) throw new MalformedBinary(`Mach-O: export trie edge points to ${childOffset}, past the trie`);
      const prefix = node.prefix + label;
      if (prefix.length > LIMITS.maxStringBytes) throw new MalformedBinary(`Mach-O: export trie name longer than ${LIMITS.maxStringBytes} bytes`);
      stack.push({ offset: childOffset, prefix, depth: node.depth + 1 });
    }
  }
  return names;
}

function readUleb(bytes: Uint8Array, cursor: { at: number }): number {
  let result = 0;
  let scale = 1;
  for (let i = 0; i < 8; i++) {
    if (cursor.at >= bytes.length) throw new MalformedBinary('Mach-O: ULEB128 value runs past its table');
    const byte = bytes[cursor.at++]!;
    result += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) return result;
    scale *= 128;
  }
  throw new MalformedBinary('Mach-O: ULEB128 value longer than 8 bytes');
}

function stripUnderscore(name: string): string {
  return name.startsWith('_') ? name.slice(1) : name;
}

function readMachOInfoBlock(reader: ByteReader, sections: readonly Section[]): BinaryInfo['infoBlock'] {
  const section = sections.find((s) => s.sectname === '__erpmod' && (s.segname === '__DATA' || s.segname === '__DATA_CONST'));
  if (section === undefined) return undefined;
  if ((section.flags & 0xff) === S_ZEROFILL) return readInfoBlock(new Uint8Array(0));
  return readInfoBlock(reader.slice(section.offset, section.size, 'Mach-O section __erpmod'));
}

function readDeclaredNapi(bytes: Uint8Array, arch: Arch, segments: readonly Segment[], vmaddr: number | undefined): number | undefined {
  if ((arch !== 'x64' && arch !== 'arm64') || vmaddr === undefined) return undefined;
  const segment = segments.find((s) => vmaddr >= s.vmaddr && vmaddr - s.vmaddr < Math.min(s.vmsize, s.filesize));
  if (segment === undefined) return undefined;
  const fileOffset = segment.fileoff + (vmaddr - segment.vmaddr);
  if (!Number.isSafeInteger(fileOffset) || fileOffset >= bytes.length) return undefined;
  return matchConstantReturn(arch, bytes.subarray(fileOffset, Math.min(bytes.length, fileOffset + NAPI_CODE_WINDOW)));
}
