/** Key names whose values are credentials (matched anywhere in the name, any case). */
const SECRET_KEY = /token|secret|password|passwd|key|credential/i;
export const MASK = '••••••';

/**
 * A module's `config:` as the console shows it: the value of every key whose name looks like a secret is
 * replaced by a mask, at any depth. The operator sees that a value is set, not what it is.
 */
export function maskConfig(value: unknown, keyName = ''): unknown {
  if (SECRET_KEY.test(keyName) && value !== null && value !== undefined && value !== '') return MASK;
  if (Array.isArray(value)) return value.map((item) => maskConfig(item, keyName));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, maskConfig(inner, key)]));
  }
  return value;
}
