/**
 * `ctx.db` SQL uses SQLite's positional placeholders (`?`, and `?NNN`); PostgreSQL numbers them (`$1`).
 * Rewrites the placeholders outside string literals, quoted identifiers, comments and dollar-quoted
 * bodies, and returns how many parameters the statement takes. A `?` inside any of those is text.
 */
export interface TranslatedSql {
  readonly text: string;
  readonly parameterCount: number;
}

const cache = new Map<string, TranslatedSql>();
const CACHE_LIMIT = 1024;

export function translatePlaceholders(sql: string): TranslatedSql {
  const hit = cache.get(sql);
  if (hit !== undefined) return hit;
  const translated = translate(sql);
  // Modules that build SQL by concatenation would grow the cache without bound.
  if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
  cache.set(sql, translated);
  return translated;
}

function translate(sql: string): TranslatedSql {
  let out = '';
  let next = 0;
  let highest = 0;
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i]!;
    if (c === "'" || c === '"') {
      const end = closingQuote(sql, i, c);
      out += sql.slice(i, end);
      i = end;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end === -1 ? n : end;
      out += sql.slice(i, stop);
      i = stop;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      const stop = end === -1 ? n : end + 2;
      out += sql.slice(i, stop);
      i = stop;
    } else if (c === '$' && /[A-Za-z_$]/.test(sql[i + 1] ?? '') && !isIdentifierChar(sql[i - 1])) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i));
      if (tag === null) {
        out += c;
        i++;
        continue;
      }
      const end = sql.indexOf(tag[0], i + tag[0].length);
      const stop = end === -1 ? n : end + tag[0].length;
      out += sql.slice(i, stop);
      i = stop;
    } else if (c === '?') {
      const digits = /^\d+/.exec(sql.slice(i + 1));
      if (digits !== null) {
        const index = Number(digits[0]);
        highest = Math.max(highest, index);
        next = Math.max(next, index);
        out += `$${index}`;
        i += 1 + digits[0].length;
      } else {
        next++;
        highest = Math.max(highest, next);
        out += `$${next}`;
        i++;
      }
    } else {
      out += c;
      i++;
    }
  }
  return { text: out, parameterCount: highest };
}

/** Index just past the closing quote; a doubled quote is an escaped one. Unterminated: the end. */
function closingQuote(sql: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < sql.length) {
    if (sql[i] === quote) {
      if (sql[i + 1] === quote) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return sql.length;
}

function isIdentifierChar(c: string | undefined): boolean {
  return c !== undefined && /[A-Za-z0-9_]/.test(c);
}
