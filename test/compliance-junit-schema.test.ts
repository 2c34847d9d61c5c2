import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { makeTempDir } from './support/host-process';
import { CLI, FIXTURE_MODULES_DIR, MODULES_DIR, ROOT } from './support/paths';

const SCHEMA = path.join(ROOT, 'docs', 'schemas', 'junit.xsd');

function validate(xml: string): { ok: boolean; output: string } {
  const file = path.join(makeTempDir('junit'), 'report.xml');
  fs.writeFileSync(file, xml);
  const run = spawnSync('xmllint', ['--noout', '--schema', SCHEMA, file], { encoding: 'utf8' });
  if (run.error) assert.fail(`xmllint is needed (scripts/install-test-packages.sh installs it): ${run.error.message}`);
  return { ok: run.status === 0, output: `${run.stdout}${run.stderr}` };
}

describe('erpmod check --format junit against docs/schemas/junit.xsd', () => {
  it('validates a report with passes, skips, a static failure and a crash in the load phase', () => {
    const run = spawnSync(process.execPath, [CLI, 'check', '--format', 'junit', path.join(MODULES_DIR, 'sales'), path.join(FIXTURE_MODULES_DIR, 'napi-10'), path.join(FIXTURE_MODULES_DIR, 'segfault-at-load')], {
      encoding: 'utf8',
    });
    assert.equal(run.status, 1, run.stderr);
    assert.match(run.stdout, /<failure message="declared Node-API 10/);
    assert.match(run.stdout, /SIGSEGV/);
    const result = validate(run.stdout);
    assert.ok(result.ok, result.output);
  });

  it('is a schema that can fail: a report with a non-numeric count is refused', () => {
    const run = spawnSync(process.execPath, [CLI, 'check', '--format', 'junit', '--static-only', path.join(MODULES_DIR, 'sales')], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.ok(validate(run.stdout).ok);
    const broken = validate(run.stdout.replace(/tests="\d+"/, 'tests="many"'));
    assert.equal(broken.ok, false);
    assert.match(broken.output, /tests/);
  });
});
