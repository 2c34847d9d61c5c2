/**
 * docs/benchmarks.md: the generated part sits between two markers and is replaced on every run; what
 * is written around it (the analysis) is kept.
 */
import fs from 'node:fs';

export const START_MARKER = '<!-- bench:results:start (written by npm run bench; edit outside the markers) -->';
export const END_MARKER = '<!-- bench:results:end -->';

export function writeReport(file: string, generated: string): void {
  const block = `${START_MARKER}\n${generated.trimEnd()}\n${END_MARKER}`;
  let text: string;
  if (fs.existsSync(file)) {
    const current = fs.readFileSync(file, 'utf8');
    const start = current.indexOf(START_MARKER.slice(0, 30));
    const end = current.indexOf(END_MARKER);
    text = start !== -1 && end > start ? `${current.slice(0, start)}${block}${current.slice(end + END_MARKER.length)}` : `${current.trimEnd()}\n\n${block}\n`;
  } else {
    text = `# Benchmarks\n\n${block}\n`;
  }
  fs.writeFileSync(file, text);
}

export function table(header: readonly string[], rows: readonly (readonly string[])[], align?: readonly ('l' | 'r')[]): string {
  const sep = header.map((_, i) => ((align?.[i] ?? (i === 0 ? 'l' : 'r')) === 'r' ? '---:' : '---'));
  return [header, sep, ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n');
}
