import path from 'node:path';

/** A path as a reader of the report wants it: relative to where the command ran, unless that is longer. */
export function displayPath(file: string, cwd: string = process.cwd()): string {
  const relative = path.relative(cwd, file);
  if (relative === '') return '.';
  return relative.length < file.length ? relative : file;
}
