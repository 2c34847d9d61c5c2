/**
 * Reads the Node-API version a library declares from the machine code of
 * node_api_module_get_api_version_v1, without running it. The function is `return NAPI_VERSION;`, which
 * every compiler turns into a handful of known byte patterns. Anything else yields undefined: the caller
 * falls back to the info block rather than guessing.
 */

/** How many bytes of the function the patterns below can need. */
export const NAPI_CODE_WINDOW = 32;

export const NAPI_VERSION_SYMBOL = 'node_api_module_get_api_version_v1';

/**
 * The constant a function returns, for the code at the start of `code`, or undefined when the code is not
 * a recognisable constant return for `arch`.
 */
export function matchConstantReturn(arch: string, code: Uint8Array): number | undefined {
  switch (arch) {
    case 'x64':
      return matchX86(code, [0xf3, 0x0f, 0x1e, 0xfa], [0x55, 0x48, 0x89, 0xe5]);
    case 'ia32':
      return matchX86(code, [0xf3, 0x0f, 0x1e, 0xfb], [0x55, 0x89, 0xe5]);
    case 'arm64':
      return matchArm64(code);
    default:
      return undefined;
  }
}

const X86_MOV_EAX_IMM32 = 0xb8;
const X86_RET = 0xc3;
const X86_REP = 0xf3;
const X86_POP_RBP = 0x5d;

/**
 * x86/x64: optional `endbr`, then either `mov eax, imm32; ret` (optimised builds, MSVC, clang) or the
 * unoptimised frame `push rbp; mov rbp, rsp; mov eax, imm32; pop rbp; ret`. `rep ret` is old GCC's ret.
 */
function matchX86(code: Uint8Array, endbr: readonly number[], framePrologue: readonly number[]): number | undefined {
  let at = startsWith(code, 0, endbr) ? endbr.length : 0;
  const framed = startsWith(code, at, framePrologue);
  if (framed) at += framePrologue.length;
  if (code[at] !== X86_MOV_EAX_IMM32 || at + 5 > code.length) return undefined;
  const value = (code[at + 1]! | (code[at + 2]! << 8) | (code[at + 3]! << 16) | (code[at + 4]! << 24)) >>> 0;
  at += 5;
  if (framed) {
    if (code[at] !== X86_POP_RBP) return undefined;
    at += 1;
  }
  if (code[at] === X86_REP) at += 1;
  return code[at] === X86_RET ? value : undefined;
}

const ARM64_BTI_C = 0xd503245f;
const ARM64_RET = 0xd65f03c0;
/** movz w0, #imm16 (hw = 0); the immediate sits in bits 5..20. */
const ARM64_MOVZ_W0 = { mask: 0xffe0001f, value: 0x52800000 };
/** movk w0, #imm16, lsl #16, for values that need two halves (NAPI_VERSION_EXPERIMENTAL). */
const ARM64_MOVK_W0_16 = { mask: 0xffe0001f, value: 0x72a00000 };

/** AArch64 instructions are little-endian whatever the data byte order. */
function matchArm64(code: Uint8Array): number | undefined {
  let at = 0;
  if (word(code, at) === ARM64_BTI_C) at += 4;
  const movz = word(code, at);
  if (movz === undefined || ((movz & ARM64_MOVZ_W0.mask) >>> 0) !== ARM64_MOVZ_W0.value) return undefined;
  let value = (movz >>> 5) & 0xffff;
  at += 4;
  const next = word(code, at);
  if (next !== undefined && ((next & ARM64_MOVK_W0_16.mask) >>> 0) === ARM64_MOVK_W0_16.value) {
    value = (value | (((next >>> 5) & 0xffff) * 0x10000)) >>> 0;
    at += 4;
  }
  return word(code, at) === ARM64_RET ? value : undefined;
}

function word(code: Uint8Array, at: number): number | undefined {
  if (at + 4 > code.length) return undefined;
  return (code[at]! | (code[at + 1]! << 8) | (code[at + 2]! << 16) | (code[at + 3]! << 24)) >>> 0;
}

function startsWith(code: Uint8Array, at: number, prefix: readonly number[]): boolean {
  if (at + prefix.length > code.length) return false;
  return prefix.every((b, i) => code[at + i] === b);
}
