/**
 * ANSI styling for the text reports, on only when the output is a terminal (or FORCE_COLOR asks for it)
 * and NO_COLOR is not set, so piped output and CI logs stay plain.
 */

export interface Style {
  readonly bold: (s: string) => string;
  readonly dim: (s: string) => string;
  readonly red: (s: string) => string;
  readonly green: (s: string) => string;
  readonly yellow: (s: string) => string;
}

const plain = (s: string): string => s;
const PLAIN: Style = { bold: plain, dim: plain, red: plain, green: plain, yellow: plain };

function wrap(open: number, close: number): (s: string) => string {
  return (s) => `\u001b[${open}m${s}\u001b[${close}m`;
}

const ANSI: Style = { bold: wrap(1, 22), dim: wrap(2, 22), red: wrap(31, 39), green: wrap(32, 39), yellow: wrap(33, 39) };

export function styleFor(stream: { readonly isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Style {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return PLAIN;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return ANSI;
  return stream.isTTY === true ? ANSI : PLAIN;
}

export const plainStyle = PLAIN;
