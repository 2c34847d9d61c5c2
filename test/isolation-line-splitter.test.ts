import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { BoundedLineSplitter } from '../host/isolation/bounded-line-splitter';
import { RunnerOutput, type OutputLimits } from '../host/isolation/runner-output';

function split(maxLineBytes: number, chunks: readonly (string | Buffer)[], end = false): [string, boolean][] {
  const lines: [string, boolean][] = [];
  const splitter = new BoundedLineSplitter(maxLineBytes, (line, truncated) => lines.push([line, truncated]));
  for (const chunk of chunks) splitter.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  if (end) splitter.end();
  return lines;
}

describe('the bounded line splitter', () => {
  it('splits lines across and within chunks, empty lines included', () => {
    assert.deepEqual(split(100, ['a', 'b\nc', 'd\n\ne\nf']), [['ab', false], ['cd', false], ['', false], ['e', false]]);
    assert.deepEqual(split(100, ['tail without newline'], true), [['tail without newline', false]]);
  });

  it('cuts a line at the cap the moment it reaches it, drops the rest up to its newline, then carries on', () => {
    const lines = split(8, ['0123', '45678', '9abc', 'def\nnext\n']);
    assert.deepEqual(lines, [['01234567', true], ['next', false]]);
    assert.deepEqual(split(8, ['0123456789\nok\n']), [['01234567', true], ['ok', false]]);
  });

  it('keeps a line of exactly the cap whole', () => {
    assert.deepEqual(split(4, ['ab', 'cd', '\n']), [['abcd', false]]);
  });

  it('takes linear time and bounded memory on 256 MiB without a newline', () => {
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let lines = 0;
    const splitter = new BoundedLineSplitter(64 * 1024, (line, truncated) => {
      lines++;
      assert.equal(line.length, 64 * 1024);
      assert.equal(truncated, true);
    });
    const heapBefore = process.memoryUsage().heapUsed;
    const started = performance.now();
    for (let i = 0; i < 4096; i++) splitter.push(chunk);
    const elapsed = performance.now() - started;
    assert.equal(lines, 1, 'one truncated line, however long the line goes on');
    // Generous: a quadratic splitter takes minutes here; this one takes milliseconds.
    assert.ok(elapsed < 2000, `${elapsed} ms`);
    assert.ok(process.memoryUsage().heapUsed - heapBefore < 32 * 1024 * 1024);
  });
});

describe("a runner's output", () => {
  const limits: OutputLimits = {
    maxLineBytes: 16,
    linesPerSecond: 1,
    lineBurst: 3,
    bytesPerSecond: 1_000_000,
    byteBurst: 1_000_000,
    readBytesPerSecond: 1_000_000,
    dropReportMs: 50,
  };

  it('passes lines on up to the rate limit, drops the excess and reports how much', async () => {
    const seen: string[] = [];
    const dropped: [number, number][] = [];
    const output = new RunnerOutput(
      { line: (line) => seen.push(line), truncated: (stream, head) => seen.push(`${stream} truncated: ${head}`), dropped: (lines, bytes) => dropped.push([lines, bytes]) },
      limits,
    );
    const stdout = new PassThrough();
    output.read(stdout, 'stdout');
    stdout.write('one\ntwo\nthis line is far too long\nfour\nfive\nsix\n');
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.deepEqual(seen, ['one', 'two', 'stdout truncated: this line is far']);
    assert.deepEqual(dropped, [[3, 'four'.length + 'five'.length + 'six'.length]], 'the periodic record counts what was dropped');
    assert.deepEqual(output.lastLines, ['one', 'two', 'this line is far', 'four', 'five', 'six'], 'the crash record still sees the dropped lines');
    output.close();
  });

  it('stops reading past the read rate, so a writer that never stops waits on its pipe', async () => {
    const output = new RunnerOutput({ line: () => undefined, truncated: () => undefined, dropped: () => undefined }, { ...limits, readBytesPerSecond: 1000 });
    const stdout = new PassThrough();
    output.read(stdout, 'stdout');
    stdout.write(Buffer.alloc(4000, 'x'));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(stdout.isPaused(), true);
    output.close();
  });
});
