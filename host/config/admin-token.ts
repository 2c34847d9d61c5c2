import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ErpmodError } from '../errors';
import { temporaryPathBeside } from '../temporary-path';

/** Name of the token file in the data directory, used when no admin_token is configured. */
export const ADMIN_TOKEN_FILE = 'admin-token';

/**
 * A token travels in an `Authorization` header: printable ASCII without spaces. A configured value with
 * a trailing space or a non-ASCII letter could never be sent back byte for byte, so it is refused here,
 * at start, rather than answering 401 forever.
 */
const TOKEN_PATTERN = /^[\x21-\x7e]+$/;

export function checkAdminToken(raw: unknown, where: string): string {
  if (typeof raw !== 'string' || !TOKEN_PATTERN.test(raw)) {
    throw new ErpmodError('ERPMOD_CONFIG_INVALID', `${where}: expected a token of printable ASCII characters without spaces, got ${describe(raw)}`);
  }
  return raw;
}

export interface AdminTokenSource {
  readonly token: string;
  /** The file it came from; undefined when it was configured. */
  readonly file: string | undefined;
  /** True when this start created the file. */
  readonly created: boolean;
}

/**
 * The configured token, or `<dataDir>/admin-token`: read when it exists (it must be private to its
 * owner and well formed), otherwise created with a fresh random token, mode 0600, in one rename so a
 * concurrent start (another cluster worker) never reads half a file.
 */
export function resolveAdminToken(configured: string | undefined, dataDir: string): AdminTokenSource {
  if (configured !== undefined) return { token: configured, file: undefined, created: false };
  const file = path.join(dataDir, ADMIN_TOKEN_FILE);
  const created = createTokenFile(file);
  return { token: readTokenFile(file), file, created };
}

/** Reads a token file the way `erpmod` commands do: the same checks as the host. */
export function readTokenFile(file: string): string {
  let stat: fs.Stats;
  let text: string;
  try {
    stat = fs.statSync(file);
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new ErpmodError('ERPMOD_CONFIG_INVALID', `${file}: expected a readable admin token file, got: ${(error as Error).message}`, { cause: error });
  }
  if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
    throw new ErpmodError(
      'ERPMOD_CONFIG_INVALID',
      `${file}: expected mode 0600 (readable by its owner only), got 0${(stat.mode & 0o777).toString(8)}; run chmod 600 on it, or delete it to have a new token made`,
    );
  }
  // One trailing newline is allowed: editors and `echo` add it.
  return checkAdminToken(text.replace(/\r?\n$/, ''), file);
}

function createTokenFile(file: string): boolean {
  if (fs.existsSync(file)) return false;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temp = temporaryPathBeside(file);
  fs.writeFileSync(temp, `${crypto.randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  try {
    // link() fails when the file appeared meanwhile: the first writer wins, everyone reads its token.
    fs.linkSync(temp, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new ErpmodError('ERPMOD_CONFIG_INVALID', `${file}: could not create the admin token file: ${(error as Error).message}`, { cause: error });
  } finally {
    fs.rmSync(temp, { force: true });
  }
}

function describe(raw: unknown): string {
  if (typeof raw !== 'string') return raw === null ? 'null' : `a ${typeof raw} (quote it in YAML)`;
  if (raw === '') return 'an empty string';
  const bad = [...raw].find((character) => !TOKEN_PATTERN.test(character));
  // Never echo the token itself: it is a secret, and this message goes to logs.
  return `${raw.length} characters including ${JSON.stringify(bad)}`;
}
