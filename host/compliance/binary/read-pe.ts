/**
 * PE/COFF reader for the static phase: PE32 and PE32+ images. Reads the export directory (names), the
 * import and delay-import directories (DLL names and the symbols imported by name or ordinal), and the
 * `.erpmod` section. The bytes are untrusted: every RVA is mapped through the section table and
 * bounds-checked, every table count is capped, so a hostile file ends in a MalformedBinary.
 */

import type { Arch, BinaryInfo } from '../types';
import { ByteReader, LIMITS, MalformedBinary, capCount } from './byte-reader';
import { readInfoBlock } from './read-info-block';
import { NAPI_CODE_WINDOW, NAPI_VERSION_SYMBOL, matchConstantReturn } from './read-napi-version-from-code';

export interface ReadPeOptions {
  /** Accepted for symmetry with the Mach-O reader; a PE file holds one architecture. */
  readonly arch?: string;
}

const PE_SIGNATURE = 0x00004550; // "PE\0\0" read little-endian
const PE32_MAGIC = 0x10b;
const PE32_PLUS_MAGIC = 0x20b;
const IMAGE_FILE_DLL = 0x2000;
const DIRECTORY_EXPORT = 0;
const DIRECTORY_IMPORT = 1;
const DIRECTORY_DELAY_IMPORT = 13;
const DELAY_ATTRIBUTE_RVA_BASED = 0x1;
const SECTION_HEADER_SIZE = 40;
const COFF_SYMBOL_SIZE = 18;
/** A DOS stub plus PE header rarely sits past the first few KiB; past 64 MiB it is a forgery. */
const MAX_PE_HEADER_OFFSET = 64 * 1024 * 1024;
const MAX_DATA_DIRECTORIES = 16;
const MAX_IMPORT_DESCRIPTORS = 10_000;
/** Names may overlap in a forged table (every suffix of one long string): cap the bytes decoded. */
const MAX_STRING_BYTES_TOTAL = 32 * 1024 * 1024;

const MACHINE_ARCH: ReadonlyMap<number, Arch> = new Map<number, Arch>([
  [0x8664, 'x64'],
  [0xaa64, 'arm64'],
  [0x14c, 'ia32'],
  [0x1c4, 'arm'],
  [0x5064, 'riscv64'],
]);

interface Section {
  readonly name: string;
  readonly virtualAddress: number;
  readonly virtualSize: number;
  readonly rawOffset: number;
  readonly rawSize: number;
}

interface Image {
  readonly reader: ByteReader;
  /** Sections ordered by virtual address, for a binary search per RVA. */
  readonly bits: 32 | 64;
  readonly imageBase: number;
  readonly sizeOfHeaders: number;
  readonly sections: readonly Section[];
  /** Bytes of names read so far: caps the work a forged table of long, shared names can cause. */
  stringBytes: number;
  /** Lookup-table entries walked so far, over every table: descriptors may share one forged table. */
  thunkEntries: number;
  readonly directories: readonly { readonly rva: number; readonly size: number }[];
}

/** Parses a PE/COFF image into what the compliance rules need. */
export function readPe(bytes: Uint8Array, _options: ReadPeOptions = {}): BinaryInfo {
  const reader = new ByteReader(bytes, 'little');
  if (reader.u16(0) !== 0x5a4d) throw new MalformedBinary('PE: no MZ signature');
  const peOffset = reader.u32(0x3c);
  if (peOffset < 0x40 || peOffset > MAX_PE_HEADER_OFFSET) throw new MalformedBinary(`PE: header offset ${peOffset} is implausible`);
  if (reader.u32(peOffset) !== PE_SIGNATURE) throw new MalformedBinary(`PE: no PE\\0\\0 signature at offset ${peOffset}`);
  const coff = peOffset + 4;
  reader.check(coff, 20, 'PE COFF header');
  const machine = reader.u16(coff);
  const sectionCount = reader.u16(coff + 2);
  const symbolTable = reader.u32(coff + 8);
  const symbolCount = reader.u32(coff + 12);
  const optionalSize = reader.u16(coff + 16);
  const characteristics = reader.u16(coff + 18);

  const optional = coff + 20;
  reader.check(optional, optionalSize, 'PE optional header');
  if (optionalSize < 2) throw new MalformedBinary('PE: no optional header (an object file, not an image)');
  const magic = reader.u16(optional);
  if (magic !== PE32_MAGIC && magic !== PE32_PLUS_MAGIC) throw new MalformedBinary(`PE: optional header magic 0x${magic.toString(16)} is neither PE32 nor PE32+`);
  const bits: 32 | 64 = magic === PE32_PLUS_MAGIC ? 64 : 32;
  const directoryCountAt = bits === 64 ? 108 : 92;
  if (optionalSize < directoryCountAt + 4) throw new MalformedBinary(`PE: optional header is ${optionalSize} bytes, too short for a PE${bits === 64 ? '32+' : '32'} image`);
  const imageBase = bits === 64 ? readU64Lossy(reader, optional + 24) : reader.u32(optional + 28);
  const sizeOfHeaders = reader.u32(optional + 60);
  const directoryCount = Math.min(reader.u32(optional + directoryCountAt), MAX_DATA_DIRECTORIES, Math.floor((optionalSize - directoryCountAt - 4) / 8));
  const directories: { rva: number; size: number }[] = [];
  for (let i = 0; i < directoryCount; i++) {
    const at = optional + directoryCountAt + 4 + i * 8;
    directories.push({ rva: reader.u32(at), size: reader.u32(at + 4) });
  }

  const sections = readSections(reader, optional + optionalSize, sectionCount, symbolTable, symbolCount);
  const byAddress = [...sections].sort((a, b) => a.virtualAddress - b.virtualAddress);
  const image: Image = { reader, bits, imageBase, sizeOfHeaders, sections: byAddress, stringBytes: 0, thunkEntries: 0, directories };
  const exports = readExports(image);
  const imports = readImports(image);
  const arch = MACHINE_ARCH.get(machine) ?? 'unknown';
  const versionRva = exports.get(NAPI_VERSION_SYMBOL);
  return {
    format: 'pe',
    bits,
    endian: 'little',
    arch,
    machine,
    isSharedLibrary: (characteristics & IMAGE_FILE_DLL) !== 0,
    exports: [...exports.keys()],
    imports: [...imports.names],
    neededLibraries: [...imports.dlls],
    infoBlock: readPeInfoBlock(reader, sections),
    declaredNapiFromCode: versionRva === undefined ? undefined : readDeclaredNapi(image, arch, versionRva),
  };
}

/** The high half must be zero for a value this reader can use; an ImageBase past 2^53 only loses precision. */
function readU64Lossy(reader: ByteReader, offset: number): number {
  return reader.u32(offset) + reader.u32(offset + 4) * 0x1_0000_0000;
}

function readSections(reader: ByteReader, at: number, count: number, symbolTable: number, symbolCount: number): Section[] {
  capCount(count, LIMITS.maxSections, 'PE section');
  reader.check(at, count * SECTION_HEADER_SIZE, 'PE section table');
  const sections: Section[] = [];
  for (let i = 0; i < count; i++) {
    const sa = at + i * SECTION_HEADER_SIZE;
    sections.push({
      name: sectionName(reader, sa, symbolTable, symbolCount),
      virtualSize: reader.u32(sa + 8),
      virtualAddress: reader.u32(sa + 12),
      rawSize: reader.u32(sa + 16),
      rawOffset: reader.u32(sa + 20),
    });
  }
  return sections;
}

/** Eight NUL-padded bytes, or `/<decimal>`: an offset into the COFF string table (long names, as MinGW writes). */
function sectionName(reader: ByteReader, at: number, symbolTable: number, symbolCount: number): string {
  let name = '';
  for (const byte of reader.slice(at, 8, 'PE section name')) {
    if (byte === 0) break;
    name += String.fromCharCode(byte);
  }
  if (!/^\/[0-9]{1,7}$/.test(name) || symbolTable === 0) return name;
  const strings = symbolTable + capCount(symbolCount, LIMITS.maxSymbols, 'COFF symbol') * COFF_SYMBOL_SIZE;
  const offset = strings + Number(name.slice(1));
  if (offset >= reader.length) return name;
  try {
    return reader.cstring(offset);
  } catch {
    // A debug section with a broken long name does not make the image unreadable.
    return name;
  }
}

/** Maps [rva, rva + size) to a file offset inside one section's raw data, or throws. */
function rvaToOffset(image: Image, rva: number, size: number, what: string): { offset: number; end: number } {
  const s = sectionAt(image.sections, rva);
  if (s !== undefined) {
    const delta = rva - s.virtualAddress;
    if (delta + size > s.rawSize) throw new MalformedBinary(`PE: ${what} at RVA 0x${rva.toString(16)} runs past the raw data of section ${s.name}`);
    const offset = s.rawOffset + delta;
    image.reader.check(offset, size, `PE ${what}`);
    return { offset, end: Math.min(s.rawOffset + s.rawSize, image.reader.length) };
  }
  if (rva + size <= image.sizeOfHeaders) {
    image.reader.check(rva, size, `PE ${what}`);
    return { offset: rva, end: Math.min(image.sizeOfHeaders, image.reader.length) };
  }
  throw new MalformedBinary(`PE: ${what} at RVA 0x${rva.toString(16)} lies in no section`);
}

/** The last section starting at or below rva, when rva falls inside it (overlapping sections are malformed anyway). */
function sectionAt(sections: readonly Section[], rva: number): Section | undefined {
  let low = 0;
  let high = sections.length - 1;
  let found: Section | undefined;
  while (low <= high) {
    const mid = (low + high) >>> 1;
    const s = sections[mid]!;
    if (s.virtualAddress <= rva) {
      found = s;
      low = mid + 1;
    } else {
      high = mid - 1;
    }
  }
  if (found === undefined || rva - found.virtualAddress >= Math.max(found.virtualSize, found.rawSize)) return undefined;
  return found;
}

function readRvaString(image: Image, rva: number, what: string): string {
  const { offset, end } = rvaToOffset(image, rva, 1, what);
  const text = image.reader.cstring(offset, end);
  image.stringBytes += text.length + 1;
  if (image.stringBytes > MAX_STRING_BYTES_TOTAL) throw new MalformedBinary(`PE: names total more than ${MAX_STRING_BYTES_TOTAL} bytes`);
  return text;
}

/** Export name → function RVA (forwarders, which point back into the export directory, map to undefined). */
function readExports(image: Image): Map<string, number | undefined> {
  const exports = new Map<string, number | undefined>();
  const directory = image.directories[DIRECTORY_EXPORT];
  if (directory === undefined || directory.rva === 0 || directory.size === 0) return exports;
  const { reader } = image;
  const dir = rvaToOffset(image, directory.rva, 40, 'export directory').offset;
  const functionCount = capCount(reader.u32(dir + 20), LIMITS.maxSymbols, 'PE exported function');
  const nameCount = capCount(reader.u32(dir + 24), LIMITS.maxSymbols, 'PE exported name');
  if (nameCount === 0) return exports;
  const functions = functionCount === 0 ? undefined : rvaToOffset(image, reader.u32(dir + 28), functionCount * 4, 'export address table').offset;
  const names = rvaToOffset(image, reader.u32(dir + 32), nameCount * 4, 'export name table').offset;
  const ordinals = rvaToOffset(image, reader.u32(dir + 36), nameCount * 2, 'export ordinal table').offset;
  for (let i = 0; i < nameCount; i++) {
    const name = readRvaString(image, reader.u32(names + i * 4), 'export name');
    const index = reader.u16(ordinals + i * 2);
    let rva: number | undefined;
    if (functions !== undefined && index < functionCount) {
      rva = reader.u32(functions + index * 4);
      if (rva >= directory.rva && rva - directory.rva < directory.size) rva = undefined;
    }
    if (!exports.has(name)) exports.set(name, rva);
  }
  return exports;
}

interface Imports {
  readonly dlls: Set<string>;
  readonly names: Set<string>;
}

function readImports(image: Image): Imports {
  const imports: Imports = { dlls: new Set(), names: new Set() };
  const { reader } = image;
  const directory = image.directories[DIRECTORY_IMPORT];
  if (directory !== undefined && directory.rva !== 0) {
    // The table ends with an all-zero descriptor; the directory size is often inexact, so it only caps.
    for (let i = 0; i < MAX_IMPORT_DESCRIPTORS; i++) {
      const at = rvaToOffset(image, directory.rva + i * 20, 20, 'import descriptor').offset;
      const lookup = reader.u32(at);
      const nameRva = reader.u32(at + 12);
      const addressTable = reader.u32(at + 16);
      if (lookup === 0 && nameRva === 0 && addressTable === 0) break;
      imports.dlls.add(readRvaString(image, nameRva, 'import DLL name'));
      readThunks(image, lookup !== 0 ? lookup : addressTable, 0, imports.names);
      if (i === MAX_IMPORT_DESCRIPTORS - 1) throw new MalformedBinary(`PE: more than ${MAX_IMPORT_DESCRIPTORS} import descriptors`);
    }
  }
  const delay = image.directories[DIRECTORY_DELAY_IMPORT];
  if (delay !== undefined && delay.rva !== 0) {
    for (let i = 0; i < MAX_IMPORT_DESCRIPTORS; i++) {
      const at = rvaToOffset(image, delay.rva + i * 32, 32, 'delay-import descriptor').offset;
      const attributes = reader.u32(at);
      const nameRva = reader.u32(at + 4);
      const nameTable = reader.u32(at + 16);
      if (nameRva === 0 && nameTable === 0) break;
      // Old (Visual C++ 6) descriptors hold virtual addresses instead of RVAs.
      const base = (attributes & DELAY_ATTRIBUTE_RVA_BASED) !== 0 ? 0 : image.imageBase;
      imports.dlls.add(readRvaString(image, toRva(nameRva, base), 'delay-import DLL name'));
      if (nameTable !== 0) readThunks(image, toRva(nameTable, base), base, imports.names);
      if (i === MAX_IMPORT_DESCRIPTORS - 1) throw new MalformedBinary(`PE: more than ${MAX_IMPORT_DESCRIPTORS} delay-import descriptors`);
    }
  }
  return imports;
}

function toRva(address: number, base: number): number {
  if (address < base) throw new MalformedBinary(`PE: address 0x${address.toString(16)} lies below the image base`);
  return address - base;
}

/** An import lookup table: by-name entries point at a hint/name pair, by-ordinal entries become `#<n>`. */
function readThunks(image: Image, rva: number, base: number, into: Set<string>): void {
  const { reader, bits } = image;
  const entrySize = bits === 64 ? 8 : 4;
  // A lookup table lies inside one section: map its start once, then walk to its zero terminator.
  const table = rvaToOffset(image, rva, entrySize, 'import lookup table');
  for (let at = table.offset; ; at += entrySize) {
    image.thunkEntries += 1;
    capCount(image.thunkEntries, LIMITS.maxImports, 'PE import lookup entry');
    if (at + entrySize > table.end) throw new MalformedBinary(`PE: import lookup table at RVA 0x${rva.toString(16)} has no terminator inside its section`);
    const low = reader.u32(at);
    const high = bits === 64 ? reader.u32(at + 4) : 0;
    if (low === 0 && high === 0) return;
    const byOrdinal = bits === 64 ? (high & 0x80000000) !== 0 : (low & 0x80000000) !== 0;
    if (byOrdinal) {
      into.add(`#${low & 0xffff}`);
    } else {
      const hintName = toRva(bits === 64 ? low + high * 0x1_0000_0000 : low, base);
      into.add(readRvaString(image, hintName + 2, 'import name'));
    }
  }
}

function readPeInfoBlock(reader: ByteReader, sections: readonly Section[]): BinaryInfo['infoBlock'] {
  const section = sections.find((s) => s.name === '.erpmod');
  if (section === undefined) return undefined;
  // VirtualSize is the real length; raw data is padded to FileAlignment (and may be shorter: zero fill).
  const size = section.virtualSize === 0 ? section.rawSize : Math.min(section.virtualSize, section.rawSize);
  return readInfoBlock(reader.slice(section.rawOffset, size, 'PE section .erpmod'));
}

function readDeclaredNapi(image: Image, arch: Arch, rva: number): number | undefined {
  if (arch !== 'x64' && arch !== 'arm64' && arch !== 'ia32') return undefined;
  let located: { offset: number; end: number };
  try {
    located = rvaToOffset(image, rva, 1, 'node_api_module_get_api_version_v1');
  } catch {
    // An export that points nowhere is for the export rules to judge; the version is simply unknown.
    return undefined;
  }
  const end = Math.min(located.end, located.offset + NAPI_CODE_WINDOW);
  return matchConstantReturn(arch, image.reader.bytes.subarray(located.offset, end));
}
