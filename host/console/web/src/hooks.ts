import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, messageOf } from './api';
import { live } from './live';

/** Re-renders the component whenever the live feed changes. */
export function useLive(): typeof live {
  const bump = useCounter()[1];
  useEffect(() => live.subscribe(bump), []);
  return live;
}

export interface Loaded<T> {
  readonly data: T | undefined;
  readonly error: string | undefined;
  readonly reload: () => void;
}

/** GETs `path`, again every `everyMs` (when given) and whenever reload() is called. */
export function useJson<T>(path: string, everyMs?: number): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [round, reload] = useCounter();
  useEffect(() => {
    let cancelled = false;
    api<T>(path).then(
      (value) => !cancelled && (setData(value), setError(undefined)),
      (failure: unknown) => !cancelled && setError(messageOf(failure)),
    );
    const timer = everyMs === undefined ? undefined : setTimeout(reload, everyMs);
    return () => {
      cancelled = true;
      if (timer !== undefined) clearTimeout(timer);
    };
  }, [path, round]);
  return { data, error, reload };
}

/** The location hash as a path: `#/modules/sales` → `/modules/sales`. */
export function useHashPath(): string {
  const read = (): string => decodeURI(location.hash.replace(/^#/, '')) || '/';
  const [pathname, setPathname] = useState(read);
  useEffect(() => {
    const changed = (): void => setPathname(read());
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return pathname;
}

/** A number and a function that increments it: a way to ask for a render or a refetch. */
function useCounter(): [number, () => void] {
  const [count, setCount] = useState(0);
  return [count, useCallback(() => setCount((n) => n + 1), [])];
}
