import { ErpmodError, isErpmodError, messageOf } from '../errors';

/** Error codes (SQLite's and the operating system's) that mean the disk holding the data is full. */
const FULL = /^(SQLITE_FULL|ENOSPC|EDQUOT)$/;
/** Codes that mean a data file cannot be opened, read or written: read-only, I/O error, not a database. */
const UNAVAILABLE = /^(SQLITE_(IOERR|READONLY|CANTOPEN|NOTADB|CORRUPT|PERM)(_\w+)?|EROFS|EIO|EACCES|EPERM|EISDIR|ENOTDIR)$/;

/**
 * The storage failure inside `error` (itself or any cause), translated into a stable code that names the
 * file, or undefined when `error` is not about storage. The one translation of SQLite's SQLITE_FULL /
 * SQLITE_IOERR / SQLITE_READONLY... and of ENOSPC / EROFS / EIO: every data file (the registry, module
 * databases, shadow copies) goes through it, so an operator sees the same code for the same disk problem.
 */
export function storageErrorOf(error: unknown, file: string): ErpmodError | undefined {
  for (let current = error, depth = 0; current !== undefined && current !== null && depth < 8; current = (current as { cause?: unknown }).cause, depth++) {
    if (isErpmodError(current) && (current.code === 'ERPMOD_STORAGE_FULL' || current.code === 'ERPMOD_STORAGE_UNAVAILABLE')) return current;
    const code = (current as { code?: unknown }).code;
    if (typeof code !== 'string') continue;
    const found = `${code}: ${messageOf(current)}`;
    if (FULL.test(code)) {
      return new ErpmodError('ERPMOD_STORAGE_FULL', `${file} could not be written: the disk is full (${found}); nothing was changed, free space and try again`, {
        cause: error,
        details: { file, storageCode: code },
      });
    }
    if (UNAVAILABLE.test(code)) {
      return new ErpmodError(
        'ERPMOD_STORAGE_UNAVAILABLE',
        `${file}: expected a readable and writable SQLite file on a writable disk, got ${found}`,
        { cause: error, details: { file, storageCode: code } },
      );
    }
  }
  return undefined;
}

/** `error` translated when it is a storage failure of `file`, else unchanged. */
export function translateStorageError(error: unknown, file: string): unknown {
  return storageErrorOf(error, file) ?? error;
}

/** Runs `work`; a storage failure it throws comes out as ERPMOD_STORAGE_FULL / ERPMOD_STORAGE_UNAVAILABLE naming `file`. */
export function withStorage<T>(file: string, work: () => T): T {
  try {
    return work();
  } catch (error) {
    throw translateStorageError(error, file);
  }
}
