/**
 * `erpmod inspect <binary>`: what the static phase sees in a library (format, arch, exports, imports,
 * info block), like `modinfo`. Reads bytes only; never loads the file. Exit 1 when the file cannot be
 * read or parsed (with the reader's reason), 2 for bad usage.
 */

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { readBinary } from '../compliance/binary/read-binary';
import { MAX_BINARY_BYTES } from '../compliance/check-static';
import { formatInspectText } from '../compliance/report/format-inspect';
import { buildInspectReport } from '../compliance/report/inspect-report';
import { listUniversalSlices } from '../compliance/report/list-universal-slices';
import { styleFor } from '../compliance/report/terminal-style';
import { ErpmodError } from '../errors';
import { parseOptions } from './parse-options';

export const INSPECT_USAGE = `usage: erpmod inspect <binary> [--arch x64|arm64] [--format text|json]

Prints what the compliance checker's static phase sees in a shared library (.so, .dylib, .dll):
format, architecture, exports, imports (Node-API and other), needed libraries, the declared Node-API
version and the erpmod info block. --arch picks the slice of a universal Mach-O file.
`;

const ARCHES = ['x64', 'arm64'] as const;

export function inspectCommand(argv: readonly string[]): number {
  const { values, positionals } = parseOptions(argv, {
    arch: { type: 'string' },
    format: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help === true) {
    process.stdout.write(INSPECT_USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    throw new ErpmodError('ERPMOD_USAGE', `inspect: expected exactly one binary path, got ${positionals.length}`);
  }
  const format = values.format ?? 'text';
  if (format !== 'text' && format !== 'json') throw new ErpmodError('ERPMOD_USAGE', `--format: expected text or json, got "${String(format)}"`);
  const arch = values.arch;
  if (arch !== undefined && !(ARCHES as readonly unknown[]).includes(arch)) {
    throw new ErpmodError('ERPMOD_USAGE', `--arch: expected one of ${ARCHES.join(', ')}, got "${String(arch)}"`);
  }

  const file = path.resolve(positionals[0]!);
  const bytes = readFileBounded(file);
  const slices = listUniversalSlices(bytes);
  // A universal file shows this machine's slice unless --arch asks for another.
  const wanted = typeof arch === 'string' ? arch : slices?.includes(process.arch) === true ? process.arch : undefined;
  const parsed = readBinary(bytes, wanted === undefined ? {} : { arch: wanted });
  if (!parsed.ok) throw new ErpmodError('ERPMOD_BINARY_UNREADABLE', `${file}: ${parsed.reason}`);

  const report = buildInspectReport({
    file, size: bytes.length, sha256: crypto.createHash('sha256').update(bytes).digest('hex'), info: parsed.info, universalSlices: slices,
  });
  process.stdout.write(format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : formatInspectText(report, styleFor(process.stdout)));
  return 0;
}

function readFileBounded(file: string): Buffer {
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) throw new Error('not a regular file');
    if (stat.size > MAX_BINARY_BYTES) throw new Error(`${stat.size} bytes is over the ${MAX_BINARY_BYTES}-byte limit`);
    return fs.readFileSync(file);
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new ErpmodError('ERPMOD_BINARY_UNREADABLE', `${file}: cannot read the file: ${reason}`, { cause: error });
  }
}
