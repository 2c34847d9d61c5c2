import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { withStorage } from '../registry/storage-error';
import { temporaryPathBeside } from '../temporary-path';

export interface ShadowCopy {
  /** Absolute path of the content-addressed copy that gets dlopened. */
  readonly path: string;
  readonly sha256: string;
  readonly bytes: Buffer;
}

/**
 * Copies a module binary to `<dataDir>/shadow/<code>/<sha256><ext>`, written to a temporary name then
 * renamed. The host only ever dlopens these copies: an operator overwriting the file in modules/ with cp
 * would otherwise rewrite a mapped library in place, which kills the process with SIGSEGV, and a new
 * build always gets a new path, so dlopen cannot hand back the old image.
 */
export function writeShadowCopy(dataDir: string, code: string, sourcePath: string): ShadowCopy {
  // Read once: the bytes hashed are the bytes written, whatever happens to the source meanwhile.
  const bytes = fs.readFileSync(sourcePath);
  const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
  const dir = path.join(dataDir, 'shadow', code);
  const target = path.join(dir, `${sha256}${path.extname(sourcePath)}`);
  if (!isSameContent(target, bytes.length)) {
    const temporary = temporaryPathBeside(target);
    withStorage(target, () => {
      fs.mkdirSync(dir, { recursive: true });
      try {
        fs.writeFileSync(temporary, bytes, { mode: 0o555 });
        fs.renameSync(temporary, target);
      } catch (error) {
        // A full disk leaves a partial temporary file behind; it would only take more of the space.
        fs.rmSync(temporary, { force: true });
        throw error;
      }
    });
  }
  return { path: target, sha256, bytes };
}

/** A shadow copy is never rewritten once it exists (it may be mapped); its name is its digest. */
function isSameContent(target: string, size: number): boolean {
  try {
    return fs.statSync(target).size === size;
  } catch {
    return false;
  }
}
