import pg from 'pg';

/**
 * Values come back as they do from SQLite, so module code reads them the same way on both engines:
 * 64-bit integers as numbers while exact, BigInt beyond 2^53; NUMERIC as such an integer when it has no
 * fraction (SUM of integers is NUMERIC on PostgreSQL, INTEGER on SQLite), else a double as SQLite's REAL;
 * booleans as 1 / 0 (SQLite has no boolean type); dates, times and JSON as the text the server sent.
 */
const OID = { bool: 16, int8: 20, json: 114, numeric: 1700, date: 1082, time: 1083, timestamp: 1114, timestamptz: 1184, timetz: 1266, interval: 1186, jsonb: 3802 };

const AS_TEXT = new Set<number>([OID.json, OID.jsonb, OID.date, OID.time, OID.timestamp, OID.timestamptz, OID.timetz, OID.interval]);

export function parseInteger(text: string): number | bigint {
  const value = Number(text);
  return Number.isSafeInteger(value) ? value : BigInt(text);
}

function parseNumeric(text: string): number | bigint | string {
  if (/^-?\d+$/.test(text)) return parseInteger(text);
  const value = Number(text);
  // NaN and Infinity have no SQLite counterpart; the text is the honest value.
  return Number.isFinite(value) ? value : text;
}

export const rowTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (format === 'binary') return pg.types.getTypeParser(oid, format);
    if (oid === OID.int8) return parseInteger;
    if (oid === OID.numeric) return parseNumeric;
    if (oid === OID.bool) return (text: string) => (text === 't' ? 1 : 0);
    if (AS_TEXT.has(oid)) return (text: string) => text;
    return pg.types.getTypeParser(oid, 'text');
  }) as pg.CustomTypesConfig['getTypeParser'],
};

/** Parameters bind as they do on SQLite: numbers, BigInt, text, Buffer, null; anything else is refused. */
export function bindValue(value: unknown, index: number): unknown {
  if (value === null || value === undefined) return null;
  switch (typeof value) {
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`ctx.db: parameter ${index + 1} is ${value}; expected a finite number`);
      return value;
    case 'bigint':
      return value.toString();
    case 'string':
      return value;
    default:
      if (Buffer.isBuffer(value) || value instanceof Uint8Array) return Buffer.from(value as Uint8Array);
      throw new TypeError(`ctx.db: parameter ${index + 1} is ${Array.isArray(value) ? 'an array' : typeof value}; expected a number, BigInt, string, Buffer or null`);
  }
}
