import fs from 'node:fs';
import path from 'node:path';
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
 * `what` is how messages name the file (default: its path).
 */
export function storageErrorOf(error: unknown, file: string, what = file): ErpmodError | undefined {
  for (let current = error, depth = 0; current !== undefined && current !== null && depth < 8; current = (current as { cause?: unknown }).cause, depth++) {
    if (isErpmodError(current) && (current.code === 'ERPMOD_STORAGE_FULL' || current.code === 'ERPMOD_STORAGE_UNAVAILABLE')) return current;
    const code = (current as { code?: unknown }).code;
    if (typeof code !== 'string') continue;
    const found = `${code}: ${messageOf(current)}`;
    if (FULL.test(code) || (code.startsWith('SQLITE_IOERR') && isDiskFull(file))) {
      return new ErpmodError('ERPMOD_STORAGE_FULL', `${what} could not be written: the disk is full (${found}); nothing was changed, free space and try again`, {
        cause: error,
        details: { file, storageCode: code },
      });
    }
    if (UNAVAILABLE.test(code)) {
      return new ErpmodError(
        'ERPMOD_STORAGE_UNAVAILABLE',
        `${what}: expected a readable and writable SQLite file on a writable disk, got ${found}`,
        { cause: error, details: { file, storageCode: code } },
      );
    }
  }
  return undefined;
}

/** Runs `work`; a storage failure it throws comes out as ERPMOD_STORAGE_FULL / ERPMOD_STORAGE_UNAVAILABLE naming `file`. */
export function withStorage<T>(file: string, work: () => T, what = file): T {
  try {
    return work();
  } catch (error) {
    throw storageErrorOf(error, file, what) ?? error;
  }
}

/**
 * SQLite reports some writes that failed for want of space (growing the WAL index, -shm) as SQLITE_IOERR_*
 * without the errno; an I/O error on a disk with no space left is that disk being full.
 */
function isDiskFull(file: string): boolean {
  for (const candidate of [file, path.dirname(file)]) {
    try {
      return fs.statfsSync(candidate).bavail === 0;
    } catch {
      // Not there (yet): try its directory.
    }
  }
  return false;
}
