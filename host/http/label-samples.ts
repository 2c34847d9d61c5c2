/**
 * Adds `name="value"` to every sample line of a Prometheus text exposition (comments untouched): one
 * pass at the end instead of threading the label through every family. Label values are escaped as the
 * format requires (backslash, double quote, newline).
 */
export function labelSamples(text: string, name: string, value: string): string {
  const label = `${name}="${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
  return text
    .split('\n')
    .map((line) => {
      if (line === '' || line.startsWith('#')) return line;
      const space = line.lastIndexOf(' ');
      const close = line.lastIndexOf('}', space);
      if (close !== -1) return `${line.slice(0, close)},${label}${line.slice(close)}`;
      return `${line.slice(0, space)}{${label}}${line.slice(space)}`;
    })
    .join('\n');
}
