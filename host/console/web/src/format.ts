export function shortHash(sha: string | null): string {
  return sha === null ? '—' : `${sha.slice(0, 12)}…`;
}

export function time(iso: string | null): string {
  if (iso === null) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  return value >= 100 ? `${Math.round(value)} ms` : `${value.toFixed(2)} ms`;
}

export function percent(share: number): string {
  return `${(share * 100).toFixed(share > 0 && share < 0.01 ? 2 : 1)} %`;
}

/** `1 route`, `7 routes`. */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

export function perSecond(value: number): string {
  return value >= 100 ? `${Math.round(value)}/s` : `${value.toFixed(1)}/s`;
}

/** One line for an audit entry's detail object. */
export function detailText(detail: unknown): string {
  if (detail === null || typeof detail !== 'object') return detail === undefined ? '' : String(detail);
  return Object.entries(detail as Record<string, unknown>)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join('  ');
}
