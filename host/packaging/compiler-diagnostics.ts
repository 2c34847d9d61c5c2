/**
 * The compiler errors in a builder's output, once each, as `file:line:col: error: message` with the
 * file relative to the module directory. Builders repeat them (make echoes, cmake-js retries, node-gyp
 * adds its own traceback) and bury them in their own noise; a vendor wants the lines to jump to.
 */

import fs from 'node:fs';
import path from 'node:path';

/** GCC and Clang: `file:line:col: error: message` (also `fatal error:`); MSVC: `file(line): error Cnnnn: message`. */
const GCC_ERROR = /^(.+?):(\d+):(?:(\d+):)? (?:fatal )?error: (.*)$/;
const MSVC_ERROR = /^(.+?)\((\d+)(?:,(\d+))?\): (?:fatal )?error (C\d+: .*)$/;
/** `file:line:col: note: in expansion of macro ...` / `required from here`: where in the vendor's code an SDK error comes from. */
const GCC_NOTE = /^(.+?):(\d+):(?:(\d+):)? (?:note: in expansion of macro|required from here)/;

export interface CompilerError {
  readonly file: string;
  readonly line: number;
  readonly column?: number;
  readonly message: string;
}

/**
 * An error reported inside the SDK's headers (a static_assert in a macro) is moved to the line of the
 * module's source the notes under it name, which is the line to change.
 */
export function compilerErrors(output: string, moduleDir: string, cwd: string = moduleDir): CompilerError[] {
  // make runs the compiler in build/ (node-gyp), cmake with absolute paths: a relative name is taken
  // from whichever of the two holds it.
  const located = (file: string): { file: string; inside: boolean } => {
    const candidates = [path.resolve(cwd, 'build', file), path.resolve(cwd, file)];
    const absolute = candidates.find((candidate) => fs.existsSync(candidate)) ?? candidates[1]!;
    const relative = path.relative(moduleDir, absolute);
    const inside = !relative.startsWith('..') && !path.isAbsolute(relative);
    return { file: inside ? relative.split(path.sep).join('/') : absolute, inside };
  };
  const found: { error: CompilerError; inside: boolean }[] = [];
  for (const raw of output.split(/\r?\n/)) {
    const line = raw.trim();
    const match = GCC_ERROR.exec(line) ?? MSVC_ERROR.exec(line);
    if (match !== null) {
      const where = located(match[1]!);
      found.push({
        error: { file: where.file, line: Number(match[2]), ...(match[3] === undefined ? {} : { column: Number(match[3]) }), message: match[4]! },
        inside: where.inside,
      });
      continue;
    }
    const note = GCC_NOTE.exec(line);
    const last = found[found.length - 1];
    if (note === null || last === undefined || last.inside) continue;
    const where = located(note[1]!);
    if (!where.inside) continue;
    last.error = { ...last.error, file: where.file, line: Number(note[2]), ...(note[3] === undefined ? {} : { column: Number(note[3]) }) };
    last.inside = true;
  }
  const seen = new Set<string>();
  const errors: CompilerError[] = [];
  for (const { error } of found) {
    const key = formatCompilerError(error);
    if (seen.has(key)) continue;
    seen.add(key);
    errors.push(error);
  }
  return errors;
}

export function formatCompilerError(error: CompilerError): string {
  return `${error.file}:${error.line}${error.column === undefined ? '' : `:${error.column}`}: error: ${error.message}`;
}

/** A builder's output without its own failure banners (`gyp ERR!`, cmake-js's `ERR! OMG`), which say nothing the exit code does not. */
export function withoutBuilderNoise(output: string): string {
  return output
    .split(/\r?\n/)
    .filter((line) => !/^(gyp |npm )?ERR! /.test(line) && !/^(gyp )?info /.test(line))
    .join('\n')
    .trim();
}
