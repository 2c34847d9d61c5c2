/**
 * A small, best-effort Itanium C++ demangler for messages: enough to turn `_ZN2v87Isolate10GetCurrentEv`
 * into `v8::Isolate::GetCurrent()`. Anything it does not understand comes back unchanged: the mangled
 * name is still correct, only less friendly. Never throws, never loops past the input.
 */

const SPECIAL: Readonly<Record<string, string>> = { TV: 'vtable for ', TI: 'typeinfo for ', TS: 'typeinfo name for ' };

export function demangleName(symbol: string): string {
  // Mach-O adds one underscore to every C-level name.
  const name = symbol.startsWith('__Z') ? symbol.slice(1) : symbol;
  if (!name.startsWith('_Z')) return symbol;
  let at = 2;
  let prefix = '';
  const special = SPECIAL[name.slice(at, at + 2)];
  if (special !== undefined) {
    prefix = special;
    at += 2;
  }
  const parts: string[] = [];
  if (name[at] === 'N') {
    at += 1;
    while (name[at] === 'K' || name[at] === 'V' || name[at] === 'r') at += 1;
    while (at < name.length && name[at] !== 'E') {
      const part = readSourceName(name, at);
      if (!part) return symbol;
      parts.push(part.text);
      at = part.next;
    }
    if (name[at] !== 'E') return symbol;
    at += 1;
  } else {
    const part = readSourceName(name, at);
    if (!part) return symbol;
    parts.push(part.text);
    at = part.next;
  }
  const qualified = parts.join('::');
  if (prefix !== '') return at === name.length ? prefix + qualified : symbol;
  const rest = name.slice(at);
  return `${qualified}(${rest === 'v' || rest === '' ? '' : '...'})`;
}

function readSourceName(name: string, at: number): { text: string; next: number } | undefined {
  const digits = /^[1-9][0-9]{0,3}/.exec(name.slice(at, at + 4));
  if (!digits) return undefined;
  const length = Number(digits[0]);
  const start = at + digits[0].length;
  if (start + length > name.length) return undefined;
  return { text: name.slice(start, start + length), next: start + length };
}
