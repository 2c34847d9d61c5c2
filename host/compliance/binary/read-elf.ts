/**
 * ELF (32/64-bit, either byte order): what the static rules need from a shared library, read through
 * section headers only. Throws MalformedBinary on anything inconsistent; readBinary turns that into a
 * result. No loop runs on a count the file controls without a cap.
 */

import type { Arch, BinaryInfo } from '../types';
import { ByteReader, LIMITS, MalformedBinary, capCount } from './byte-reader';
import { readInfoBlock } from './read-info-block';
import { NAPI_CODE_WINDOW, NAPI_VERSION_SYMBOL, matchConstantReturn } from './read-napi-version-from-code';

export const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46] as const;

const ET_DYN = 3;
const SHT_SYMTAB = 2;
const SHT_DYNAMIC = 6;
const SHT_NOBITS = 8;
const SHT_DYNSYM = 11;
const SHF_EXECINSTR = 0x4;
const SHN_UNDEF = 0;
const SHN_LORESERVE = 0xff00;
const SHN_ABS = 0xfff1;
const SHN_XINDEX = 0xffff;
const STB_GLOBAL = 1;
const STB_WEAK = 2;
const STB_GNU_UNIQUE = 10;
const STT_SECTION = 3;
const STT_FILE = 4;
const STV_DEFAULT = 0;
const STV_PROTECTED = 3;
const DT_NULL = 0;
const DT_NEEDED = 1;
const DT_FLAGS_1 = 0x6ffffffb;
/** A position-independent executable is ET_DYN too; only this flag tells it from a library. */
const DF_1_PIE = 0x08000000;

/** e_machine values the host can name; the rest report 'unknown' with the raw number. */
const MACHINES: Readonly<Record<number, Arch>> = {
  3: 'ia32', // EM_386
  40: 'arm', // EM_ARM
  21: 'ppc64', // EM_PPC64
  22: 's390x', // EM_S390
  62: 'x64', // EM_X86_64
  183: 'arm64', // EM_AARCH64
  243: 'riscv64', // EM_RISCV
};

interface Section {
  readonly name: string;
  readonly type: number;
  readonly flags: number;
  readonly addr: number;
  readonly offset: number;
  readonly size: number;
  readonly link: number;
  readonly entsize: number;
}

interface ElfSymbol {
  readonly name: string;
  readonly bind: number;
  readonly type: number;
  readonly visibility: number;
  readonly shndx: number;
  readonly value: number;
}

interface ElfHeader {
  readonly bits: 32 | 64;
  readonly type: number;
  readonly machine: number;
  readonly shoff: number;
  readonly shentsize: number;
  readonly shnum: number;
  readonly shstrndx: number;
}

export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && ELF_MAGIC.every((b, i) => bytes[i] === b);
}

export function readElf(bytes: Uint8Array): BinaryInfo {
  if (!isElf(bytes)) throw new MalformedBinary('not an ELF file (bad magic)');
  if (bytes.length < 52) throw new MalformedBinary(`ELF header truncated (${bytes.length} bytes)`);
  const cls = bytes[4];
  const data = bytes[5];
  if (cls !== 1 && cls !== 2) throw new MalformedBinary(`unknown ELF class ${cls}`);
  if (data !== 1 && data !== 2) throw new MalformedBinary(`unknown ELF data encoding ${data}`);
  const bits = cls === 2 ? 64 : 32;
  const endian = data === 1 ? 'little' : 'big';
  const r = new ByteReader(bytes, endian);

  const header = readHeader(r, bits);
  const sections = readSections(r, header);
  const arch = MACHINES[header.machine] ?? 'unknown';

  const dynsym = sections.find((s) => s.type === SHT_DYNSYM);
  const symtab = dynsym ?? sections.find((s) => s.type === SHT_SYMTAB);
  const symbols = symtab ? readSymbols(r, bits, sections, symtab) : [];

  const exports: string[] = [];
  const imports: string[] = [];
  for (const sym of symbols) {
    if (sym.name === '' || sym.type === STT_SECTION || sym.type === STT_FILE) continue;
    const global = sym.bind === STB_GLOBAL || sym.bind === STB_WEAK || sym.bind === STB_GNU_UNIQUE;
    if (!global) continue;
    if (sym.shndx === SHN_UNDEF) imports.push(sym.name);
    else if (sym.visibility === STV_DEFAULT || sym.visibility === STV_PROTECTED) exports.push(sym.name);
  }

  const dynamic = readDynamic(r, bits, sections);
  const erpmod = sections.find((s) => s.name === '.erpmod');
  const napiSymbol = symbols.find((s) => s.name === NAPI_VERSION_SYMBOL && s.shndx !== SHN_UNDEF);

  return {
    format: 'elf',
    bits,
    endian,
    arch,
    machine: header.machine,
    isSharedLibrary: header.type === ET_DYN && (dynamic.flags1 & DF_1_PIE) === 0,
    exports: unique(exports),
    imports: unique(imports),
    neededLibraries: dynamic.needed,
    infoBlock: erpmod ? readInfoBlock(sectionBytes(r, erpmod)) : undefined,
    declaredNapiFromCode: napiSymbol ? readNapiFromCode(r, arch, sections, napiSymbol) : undefined,
  };
}

function readHeader(r: ByteReader, bits: 32 | 64): ElfHeader {
  const type = r.u16(16);
  const machine = r.u16(18);
  const shoff = bits === 64 ? r.u64(40) : r.u32(32);
  const at = bits === 64 ? 58 : 46;
  let shentsize = r.u16(at);
  let shnum = r.u16(at + 2);
  let shstrndx = r.u16(at + 4);
  if (shoff === 0) return { bits, type, machine, shoff, shentsize, shnum: 0, shstrndx: 0 };
  const expected = bits === 64 ? 64 : 40;
  if (shentsize !== expected) throw new MalformedBinary(`section header size ${shentsize}, expected ${expected}`);
  // More than 0xff00 sections, or a string table index past it: the real values live in section 0.
  if (shnum === 0) shnum = bits === 64 ? r.u64(shoff + 32) : r.u32(shoff + 20);
  if (shstrndx === SHN_XINDEX) shstrndx = r.u32(shoff + (bits === 64 ? 40 : 24));
  capCount(shnum, LIMITS.maxSections, 'section');
  r.check(shoff, shnum * shentsize, 'section header table');
  shentsize = expected;
  return { bits, type, machine, shoff, shentsize, shnum, shstrndx };
}

function readSections(r: ByteReader, h: ElfHeader): Section[] {
  const raw: Omit<Section, 'name'>[] = [];
  const nameOffsets: number[] = [];
  for (let i = 0; i < h.shnum; i++) {
    const at = h.shoff + i * h.shentsize;
    nameOffsets.push(r.u32(at));
    if (h.bits === 64) {
      raw.push({ type: r.u32(at + 4), flags: r.u64(at + 8), addr: r.u64(at + 16), offset: r.u64(at + 24),
        size: r.u64(at + 32), link: r.u32(at + 40), entsize: r.u64(at + 56) });
    } else {
      raw.push({ type: r.u32(at + 4), flags: r.u32(at + 8), addr: r.u32(at + 12), offset: r.u32(at + 16),
        size: r.u32(at + 20), link: r.u32(at + 24), entsize: r.u32(at + 36) });
    }
  }
  const names = h.shnum > 0 && h.shstrndx < h.shnum ? raw[h.shstrndx] : undefined;
  return raw.map((s, i) => {
    let name = '';
    if (names && names.type !== SHT_NOBITS) {
      r.check(names.offset, names.size, 'section name table');
      name = r.cstring(names.offset + nameOffsets[i]!, names.offset + names.size);
    }
    return { ...s, name };
  });
}

/** A section's bytes in the file; an SHT_NOBITS section has none. */
function sectionBytes(r: ByteReader, s: Section): Uint8Array {
  if (s.type === SHT_NOBITS) return new Uint8Array(0);
  return r.slice(s.offset, s.size, `section ${s.name || '(unnamed)'}`);
}

function linkedSection(sections: readonly Section[], s: Section, what: string): Section {
  const linked = sections[s.link];
  if (!linked || s.link === 0) throw new MalformedBinary(`${what} links to missing section ${s.link}`);
  return linked;
}

/** The named global, weak and unique symbols of a table. */
function readSymbols(r: ByteReader, bits: 32 | 64, sections: readonly Section[], table: Section): ElfSymbol[] {
  const entsize = bits === 64 ? 24 : 16;
  if (table.entsize !== 0 && table.entsize !== entsize) {
    throw new MalformedBinary(`symbol entry size ${table.entsize}, expected ${entsize}`);
  }
  sectionBytes(r, table);
  const strtab = linkedSection(sections, table, 'symbol table');
  sectionBytes(r, strtab);
  const count = capCount(Math.floor(table.size / entsize), LIMITS.maxSymbols, 'symbol');
  const names = new NameTable(r, strtab.offset, strtab.offset + strtab.size);
  const symbols: ElfSymbol[] = [];
  for (let i = 1; i < count; i++) {
    const at = table.offset + i * entsize;
    const info = r.u8(at + (bits === 64 ? 4 : 12));
    const bind = info >> 4;
    // Local symbols (most of a .symtab) can be neither export nor import: skip them before decoding names.
    if (bind !== STB_GLOBAL && bind !== STB_WEAK && bind !== STB_GNU_UNIQUE) continue;
    const nameOffset = r.u32(at);
    if (nameOffset === 0) continue;
    const value = bits === 64 ? r.u64(at + 8) : r.u32(at + 4);
    const other = r.u8(at + (bits === 64 ? 5 : 13));
    const shndx = r.u16(at + (bits === 64 ? 6 : 14));
    symbols.push({ name: names.read(nameOffset), bind, type: info & 0xf, visibility: other & 0x3, shndx, value });
  }
  return symbols;
}

function readDynamic(r: ByteReader, bits: 32 | 64, sections: readonly Section[]): { needed: string[]; flags1: number } {
  const dynamic = sections.find((s) => s.type === SHT_DYNAMIC);
  if (!dynamic) return { needed: [], flags1: 0 };
  sectionBytes(r, dynamic);
  const strtab = linkedSection(sections, dynamic, '.dynamic');
  sectionBytes(r, strtab);
  const entsize = bits === 64 ? 16 : 8;
  const count = capCount(Math.floor(dynamic.size / entsize), LIMITS.maxDynamicEntries, 'dynamic entry');
  const needed: string[] = [];
  let flags1 = 0;
  for (let i = 0; i < count; i++) {
    const at = dynamic.offset + i * entsize;
    const tag = bits === 64 ? tag64(r, at) : r.u32(at);
    if (tag === DT_NULL) break;
    if (tag !== DT_NEEDED && tag !== DT_FLAGS_1) continue;
    const value = bits === 64 ? r.u64(at + 8) : r.u32(at + 4);
    if (tag === DT_NEEDED) needed.push(r.cstring(strtab.offset + value, strtab.offset + strtab.size));
    else flags1 = value;
  }
  return { needed, flags1 };
}

/** Maps the symbol's address to file bytes through the executable section that holds it. */
function readNapiFromCode(r: ByteReader, arch: Arch, sections: readonly Section[], sym: ElfSymbol): number | undefined {
  if (sym.shndx === SHN_ABS || sym.shndx >= SHN_LORESERVE) return undefined;
  const section = sections[sym.shndx];
  if (!section || section.type === SHT_NOBITS || (section.flags & SHF_EXECINSTR) === 0) return undefined;
  if (sym.value < section.addr || sym.value >= section.addr + section.size) return undefined;
  const offset = section.offset + (sym.value - section.addr);
  const available = Math.min(NAPI_CODE_WINDOW, section.offset + section.size - offset, r.length - offset);
  if (available <= 0) return undefined;
  return matchConstantReturn(arch, r.slice(offset, available));
}

/** Bytes of symbol names a reader may decode; real libraries (node itself) stay far below. */
const NAME_BYTES_BUDGET = 64 * 1024 * 1024;

/**
 * Symbol names through a cache and a budget: a forged table can point a million symbols at long strings,
 * which would otherwise cost gigabytes of scanning.
 */
class NameTable {
  private readonly cache = new Map<number, string>();
  private budget = NAME_BYTES_BUDGET;

  constructor(private readonly r: ByteReader, private readonly start: number, private readonly end: number) {}

  read(offset: number): string {
    const cached = this.cache.get(offset);
    if (cached !== undefined) return cached;
    const name = this.r.cstring(this.start + offset, this.end);
    this.budget -= name.length + 1;
    if (this.budget < 0) throw new MalformedBinary(`symbol names exceed ${NAME_BYTES_BUDGET} bytes`);
    this.cache.set(offset, name);
    return name;
  }
}

/** Every defined tag fits in 32 bits; a forged wider one is just unknown (-1), not a reason to give up. */
function tag64(r: ByteReader, at: number): number {
  const low = r.u32(at + (r.endian === 'little' ? 0 : 4));
  const high = r.u32(at + (r.endian === 'little' ? 4 : 0));
  return high === 0 ? low : -1;
}

function unique(names: string[]): string[] {
  return [...new Set(names)];
}
