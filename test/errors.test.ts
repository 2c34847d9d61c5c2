import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ERROR_DEFINITIONS, ErpmodError } from '../host/errors';
import { ROOT } from './support/paths';

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(full) : entry.name.endsWith('.ts') ? [full] : [];
  });
}

describe('error codes', () => {
  const codes = Object.keys(ERROR_DEFINITIONS);
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'errors.md'), 'utf8');
  const documented = [...doc.matchAll(/^## (ERPMOD_[A-Z_]+)$/gm)].map((match) => match[1]);

  it('documents every code in docs/errors.md, and nothing else', () => {
    assert.deepEqual([...documented].sort(), [...codes].sort());
  });

  it('raises every defined code somewhere in the host (no dead codes)', () => {
    const source = sourceFiles(path.join(ROOT, 'host'))
      .filter((file) => !file.endsWith(`${path.sep}errors.ts`))
      .map((file) => fs.readFileSync(file, 'utf8'))
      .join('\n');
    const unused = codes.filter((code) => !source.includes(`'${code}'`));
    assert.deepEqual(unused, []);
  });

  it('gives every code an HTTP status and keeps the cause', () => {
    for (const [code, definition] of Object.entries(ERROR_DEFINITIONS)) {
      assert.ok(definition.status >= 400 && definition.status <= 599, code);
    }
    const cause = new Error('root');
    const error = new ErpmodError('ERPMOD_BAD_JSON', 'expected JSON, got junk', { cause });
    assert.equal(error.status, 400);
    assert.equal(error.cause, cause);
  });
});
