/**
 * `erpmod dev`: a module made with `erpmod new` is built and served by a local host; an edit of its
 * source is rebuilt and hot-reloaded (the new reply is served); a source that does not compile keeps
 * the last good build serving and prints the compiler error once as file:line; fixing it serves again;
 * a new version in module.yml is compiled in and served.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { scaffoldModule } from '../host/packaging/scaffold-module';
import { makeTempDir } from './support/host-process';
import { call } from './support/http-client';
import { CLI } from './support/paths';

/** Generous: one rebuild of a small C module, on a busy machine. */
const BOUND_MS = 180_000;

class DevProcess {
  output = '';
  private readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (chunk: Buffer) => (this.output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (this.output += chunk.toString('utf8')));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  async waitFor(pattern: RegExp, from = 0): Promise<RegExpExecArray> {
    const deadline = Date.now() + BOUND_MS;
    for (;;) {
      const match = pattern.exec(this.output.slice(from));
      if (match !== null) return match;
      if (this.child.exitCode !== null) assert.fail(`erpmod dev exited (${this.child.exitCode}) before ${pattern}:\n${this.output}`);
      if (Date.now() > deadline) assert.fail(`no ${pattern} within ${BOUND_MS} ms:\n${this.output}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }

  stop(): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill('SIGINT');
    return this.exited;
  }
}

describe('erpmod dev', () => {
  it('serves a module, hot-reloads an edit, keeps the last good build through a compile error, serves the fix', { timeout: 4 * BOUND_MS }, async (t) => {
    const work = makeTempDir('vendor-dev');
    const { dir } = scaffoldModule('desk', { builder: 'gyp', language: 'c', parentDir: work });
    const source = path.join(dir, 'src', 'desk.c');
    const original = fs.readFileSync(source, 'utf8');
    assert.ok(original.includes('{\\"greeting\\":'), 'the template replies with a greeting field');

    const dev = new DevProcess(spawn(process.execPath, [CLI, 'dev', dir, '--port', '0'], { cwd: work, env: process.env }));
    t.after(() => dev.stop());
    const serving = await dev.waitFor(/erpmod dev: serving at (http:\/\/\S+?);.*data in (\S+);/);
    const url = `${serving[1]}/api/v1/desk/greetings/ada`;
    const dataDir = serving[2]!;
    assert.match(dev.output, /\[desk\] compile +\d+\.\d s\n/, 'one line per phase with its time');
    assert.match(dev.output, /\[desk\] check +\d+\.\d s\n/);
    const first = await call(url);
    assert.equal(first.status, 200, first.text);
    assert.equal(first.json.greeting, 'hello');

    // An edit: rebuilt, checked, reloaded; the new reply is served.
    let mark = dev.output.length;
    fs.writeFileSync(source, original.replace('{\\"greeting\\":', '{\\"salute\\":'));
    await dev.waitFor(/\[desk\] reload +\d+\.\d s: serving 1\.0\.0, generation 2/, mark);
    const edited = await call(url);
    assert.equal(edited.status, 200, edited.text);
    assert.equal(edited.json.salute, 'hello');
    assert.equal(edited.json.count, 2, 'the module keeps its data across the reload');

    // A compile error: said once as file:line, and the last good build keeps serving.
    mark = dev.output.length;
    const broken = original.replace('{\\"greeting\\":', '{\\"salute\\":').replace('static bool is_name', 'static boool is_name');
    fs.writeFileSync(source, broken);
    await dev.waitFor(/\[desk\] build failed \(the host keeps serving the last good build\)/, mark);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const failure = dev.output.slice(mark);
    const line = broken.split('\n').findIndex((l) => l.includes('static boool is_name')) + 1;
    const located = failure.match(new RegExp(`src/desk\\.c:${line}:\\d+: error: [^\\n]*boool`, 'g')) ?? [];
    assert.equal(located.length, 1, `the error is printed once, as src/desk.c:${line}:<col>:\n${failure}`);
    assert.doesNotMatch(failure, /ERR!/, 'without the builder\'s banners');
    const during = await call(url);
    assert.equal(during.status, 200, during.text);
    assert.equal(during.json.salute, 'hello', 'the last good build serves');

    // The fix: served again, as the next generation.
    mark = dev.output.length;
    fs.writeFileSync(source, original);
    await dev.waitFor(/\[desk\] reload +\d+\.\d s: serving 1\.0\.0, generation 3/, mark);
    const fixed = await call(url);
    assert.equal(fixed.json.greeting, 'hello');

    // module.yml is the one place the version is written: editing it rebuilds a library that says so.
    mark = dev.output.length;
    const manifest = path.join(dir, 'module.yml');
    fs.writeFileSync(manifest, fs.readFileSync(manifest, 'utf8').replace(/^version: 1\.0\.0$/m, 'version: 1.0.1'));
    await dev.waitFor(/\[desk\] reload +\d+\.\d s: serving 1\.0\.1, generation 4/, mark);
    assert.equal((await call(url)).json.version, '1.0.1');

    assert.equal(await dev.stop(), 0, dev.output);
    assert.ok(!fs.existsSync(dataDir), 'the temporary data directory is removed at exit');
  });
});
