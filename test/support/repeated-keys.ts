/**
 * The keys a JSON object's text names more than once at its top level. JSON.parse keeps the last of
 * them without a word, so a log line that repeats a field looks whole to every reader but one that
 * keeps the first.
 */
export function repeatedTopLevelKeys(text: string): string[] {
  const seen = new Set<string>();
  const repeated: string[] = [];
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      let next = end + 1;
      while (text[next] === ' ') next++;
      if (depth === 1 && text[next] === ':') {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (seen.has(key)) repeated.push(key);
        else seen.add(key);
      }
      i = end;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return repeated;
}
