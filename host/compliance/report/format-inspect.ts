/** `erpmod inspect` as text: one labelled fact per line, then the symbol lists. */

import type { InspectReport } from './inspect-report';
import { displayPath } from './display-path';
import { plainStyle } from './terminal-style';
import type { Style } from './terminal-style';

const FORMAT_NAMES = { elf: 'ELF', macho: 'Mach-O', pe: 'PE/COFF' } as const;
const LABEL_WIDTH = 12;

export function formatInspectText(r: InspectReport, style: Style = plainStyle, cwd: string = process.cwd()): string {
  const s = style;
  const lines: string[] = [];
  const fact = (label: string, value: string): void => {
    const [first = '', ...rest] = value.split('\n');
    lines.push(`${s.bold(label.padEnd(LABEL_WIDTH))}${first}`);
    for (const line of rest) lines.push(`${' '.repeat(LABEL_WIDTH)}${line}`);
  };
  fact('file', displayPath(r.file, cwd));
  fact('size', `${r.size.toLocaleString('en-US')} bytes`);
  fact('sha256', r.sha256);
  fact('format', `${FORMAT_NAMES[r.format]} ${r.bits}-bit ${r.endian}-endian`);
  fact('arch', `${r.arch} (machine ${r.machine} / 0x${(r.machine >>> 0).toString(16)})`);
  if (r.universalSlices !== null) fact('universal', `${r.universalSlices.join(', ')} (showing the ${r.arch} slice; --arch picks another)`);
  fact('type', r.sharedLibrary ? 'shared library' : s.red('not a shared library'));
  fact('Node-API', `${r.napi.fromCode ?? 'unknown'} (from code) · ${r.napi.fromInfoBlock ?? 'unknown'} (from info block)`);
  fact('needed', r.neededLibraries.length === 0 ? s.dim('(none)') : r.neededLibraries.join(', '));
  if (r.infoBlock === null) fact('info block', s.red('absent'));
  else {
    fact('info block', Object.entries(r.infoBlock.fields).map(([k, v]) => `${k}=${v}`).join('\n') || s.dim('(empty)'));
    if (r.infoBlock.unknownKeys.length > 0) fact('', s.yellow(`unknown keys: ${r.infoBlock.unknownKeys.join(', ')}`));
    for (const problem of r.infoBlock.problems) fact('', s.red(`problem: ${problem}`));
  }
  lines.push('');
  section(lines, s, `exports (${r.exports.length})`, r.exports);
  section(lines, s, `imports: Node-API (${r.imports.nodeApi.length})`, r.imports.nodeApi);
  section(lines, s, `imports: other (${r.imports.other.length})`,
    r.imports.other.map((i) => (i.demangled === null ? i.name : `${i.demangled}  ${s.dim(i.name)}`)));
  return `${lines.join('\n')}\n`;
}

function section(lines: string[], s: Style, title: string, items: readonly string[]): void {
  lines.push(s.bold(title));
  for (const item of items) lines.push(`  ${item}`);
  if (items.length === 0) lines.push(s.dim('  (none)'));
}
