import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readInfoBlock } from '../host/compliance/binary/read-info-block';

const encode = (text: string) => new TextEncoder().encode(text);
const GOOD = 'erpmod_info=1\nerpmod_abi=1\ncode=sales\nversion=1.4.0\nnapi=8\nsdk=0.1.0\n';

describe('readInfoBlock', () => {
  it('reads a well-formed block, ignoring the alignment padding after the terminator', () => {
    const block = readInfoBlock(encode(`${GOOD}\0\0\0\0`));
    assert.equal(block.raw, GOOD);
    assert.deepEqual(block.fields, { erpmod_info: '1', erpmod_abi: '1', code: 'sales', version: '1.4.0', napi: '8', sdk: '0.1.0' });
    assert.deepEqual(block.problems, []);
    assert.deepEqual(block.unknownKeys, []);
  });

  it('keeps the first of duplicate keys and reports the duplicate', () => {
    const block = readInfoBlock(encode(`${GOOD}code=other\n\0`));
    assert.equal(block.fields.code, 'sales');
    assert.deepEqual(block.problems, ['line 7: duplicate key code (first value "sales" kept)']);
  });

  it('reports malformed lines, bad keys, missing required keys and a non-integer napi', () => {
    const block = readInfoBlock(encode('erpmod_info=1\njust text\nCode=x\nnapi=eight\n\0'));
    assert.deepEqual(block.problems, [
      'line 2: expected key=value, got "just text"',
      'line 3: key "Code" is not lowercase snake_case',
      'napi: expected a positive integer, got "eight"',
      'missing required keys: erpmod_abi, code, version, sdk',
    ]);
  });

  it('requires erpmod_info=1 first', () => {
    const block = readInfoBlock(encode('code=sales\nerpmod_info=2\n\0'));
    assert.ok(block.problems.includes('line 1: expected erpmod_info=1, got "code=sales"'));
    assert.ok(block.problems.includes('erpmod_info: expected 1, got "2" (a block format this reader does not know)'));
  });

  it('reports unknown keys without calling them problems', () => {
    const block = readInfoBlock(encode(`${GOOD}colour=blue\n\0`));
    assert.deepEqual(block.unknownKeys, ['colour']);
    assert.deepEqual(block.problems, []);
    assert.equal(block.fields.colour, 'blue');
  });

  it('bounds the block to 4 KiB and requires its terminator', () => {
    const huge = readInfoBlock(encode(`${GOOD}${'x'.repeat(8192)}`));
    assert.ok(huge.problems.includes('the info block is not NUL-terminated within 4096 bytes'));
    assert.ok(huge.raw.length <= 4096);
    assert.ok(readInfoBlock(encode(GOOD)).problems.includes('the info block is not NUL-terminated'));
  });

  it('reports a second block linked into the same section, invalid UTF-8 and control characters', () => {
    assert.ok(readInfoBlock(encode(`${GOOD}\0${GOOD}\0`)).problems.some((p) => /more than one block/.test(p)));
    const bad = Uint8Array.from([...encode('erpmod_info=1\ncode=s'), 0xff, 0x0a, 0]);
    assert.ok(readInfoBlock(bad).problems.includes('the info block is not valid UTF-8'));
    assert.ok(readInfoBlock(encode(`${GOOD}name=a\u0007b\n\0`)).problems.includes('line 7: value of name contains control characters'));
  });

  it('never throws on random bytes', () => {
    let seed = 7;
    for (let round = 0; round < 500; round++) {
      const bytes = Uint8Array.from({ length: round * 13 % 5000 }, () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
      const block = readInfoBlock(bytes);
      assert.ok(Array.isArray(block.problems));
    }
  });

  it('does not let a key named __proto__ reach the prototype', () => {
    const block = readInfoBlock(encode(`${GOOD}__proto__=x\n\0`));
    assert.equal(Object.getPrototypeOf(block.fields), Object.prototype);
    assert.equal(({} as Record<string, unknown>).x, undefined);
  });
});
