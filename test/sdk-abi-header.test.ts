/**
 * native-sdk/include/erpmod/abi.h is the erpmod ABI: its hash is pinned here so that no edit to it goes
 * unnoticed (envoy's dynamic_modules pins its ABI header the same way).
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { findRepoRoot, resolveNodeDir } from '../scripts/build-modules';

const root = findRepoRoot(__dirname);
const header = path.join(root, 'native-sdk', 'include', 'erpmod', 'abi.h');
const PINNED_SHA256 = '0efffed822e663a9df1fca64e660c65b5b3aedd8d8175bd8f1f8e05f67c33825';

test('erpmod/abi.h is unchanged since its hash was pinned', () => {
  // Line endings normalised, so a CRLF checkout hashes the same.
  const actual = createHash('sha256').update(readFileSync(header, 'utf8').replace(/\r\n/g, '\n')).digest('hex');
  assert.equal(
    actual,
    PINNED_SHA256,
    'native-sdk/include/erpmod/abi.h changed. It defines erpmod ABI 1, the contract every built module relies on. ' +
      'Decide consciously: if an already built module could misbehave with the new header (info block text or section, ' +
      'entry points, the JavaScript contract it documents), bump ERPMOD_ABI_VERSION and the majors the host accepts; ' +
      'if not, say why in the commit. Then pin the new hash here: ' + actual,
  );
});

test('the header declares ABI 1 and SDK 0.1.0, the versions the info block records', () => {
  const text = readFileSync(header, 'utf8');
  assert.match(text, /^#define ERPMOD_ABI_VERSION 1$/m);
  assert.match(text, /^#define ERPMOD_SDK_VERSION "0\.1\.0"$/m);
});

/** Compiles `text` as strict ISO C99 (warnings are errors) against the SDK's headers. */
function compileC99(text: string): { cc: SpawnSyncReturns<string>; source: string; object: string } {
  const dir = mkdtempSync(path.join(tmpdir(), 'erpmod-abi-'));
  const source = path.join(dir, 'only-c.c');
  writeFileSync(source, text);
  const object = path.join(dir, 'only-c.o');
  const nodeInclude = path.join(resolveNodeDir(), 'include', 'node');
  const cc = spawnSync('cc', ['-std=c99', '-Wall', '-Wextra', '-pedantic', '-Werror', '-I', nodeInclude, '-I', path.dirname(path.dirname(header)), '-c', source, '-o', object], { encoding: 'utf8' });
  return { cc, source, object };
}

test('the header is pure C: a C99 file with only node_api.h compiles and carries the info block', (t) => {
  const { cc, source, object } = compileC99('#include <node_api.h>\n#include "erpmod/abi.h"\nERPMOD_INFO_BLOCK("pure-c", "1.2.3")\n');
  if (cc.error !== undefined) {
    t.skip('no C compiler (cc)');
    return;
  }
  assert.equal(cc.status, 0, cc.stderr);
  assert.ok(readFileSync(object).includes('erpmod_info=1\nerpmod_abi=1\ncode=pure-c\nversion=1.2.3\nnapi=8\nsdk=0.1.0\n\0'));

  // Without NAPI_VERSION the info block cannot say which Node-API version it declares: an error, not a guess.
  writeFileSync(source, '#include "erpmod/abi.h"\n');
  const missing = spawnSync('cc', ['-I', path.dirname(path.dirname(header)), '-c', source, '-o', object], { encoding: 'utf8' });
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /define NAPI_VERSION/);
});

test('erpmod/pool-c.h, the plain-C pool API, compiles as strict C99 too', (t) => {
  const { cc } = compileC99('#include <node_api.h>\n#include "erpmod/pool-c.h"\n');
  if (cc.error !== undefined) {
    t.skip('no C compiler (cc)');
    return;
  }
  assert.equal(cc.status, 0, cc.stderr);
});
