import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { describe, it } from 'node:test';
import { call } from './support/http-client';
import { eventually } from './support/eventually';
import { makeTempDir, startHostProcess } from './support/host-process';
import { makeModulesDir } from './support/modules-dir';
import { CLI } from './support/paths';
import { repeatedTopLevelKeys } from './support/repeated-keys';

describe('log_format: pretty', () => {
  for (const isolation of ['in-process', 'process'] as const) {
  it(`writes lines a person reads, the access log included, and no JSON (isolation: ${isolation})`, async () => {
    // Node reads NODE_EXTRA_CA_CERTS as a runner starts; one its sandbox hid would print a warning into the output.
    const extraCa = path.join(makeTempDir('ca'), 'extra-ca.pem');
    fs.writeFileSync(extraCa, tls.rootCertificates[0]!);
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--admin-port', '0'], {
      env: { ...process.env, NODE_EXTRA_CA_CERTS: extraCa, ERPMOD_MODULES_DIR: makeModulesDir(['good-alpha', 'example:inventory']), ERPMOD_DATA_DIR: makeTempDir('data'), ERPMOD_HOST: '127.0.0.1', ERPMOD_LOG_FORMAT: 'pretty', ERPMOD_LOG_LEVEL: 'debug', ERPMOD_ISOLATION: isolation },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    try {
      const port = await waitFor(() => /erpmod listening on port (\d+)/.exec(output)?.[1], () => output);
      assert.equal((await call(`http://127.0.0.1:${port}/api/v1/alpha/ping`, 'GET', undefined, { 'x-request-id': 'pretty-1' })).status, 200);
      const line = await waitFor(() => output.split('\n').find((text) => text.includes('requestId=pretty-1')), () => output);
      assert.match(line, /^\d\d:\d\d:\d\d\.\d{3} INFO  \[alpha\] GET \/api\/v1\/alpha\/ping 200 [\d.]+ ms method=GET path=\/api\/v1\/alpha\/ping status=200 durationMs=[\d.]+ version=1\.0\.0 requestId=pretty-1$/);
      assert.match(output, /^\d\d:\d\d:\d\d\.\d{3} INFO  \[alpha\] module alpha loaded /m);
      // A module's own line: written by its runner process under isolation: process, and passed on through the host's logger.
      assert.match(output, /^\d\d:\d\d:\d\d\.\d{3} INFO  \[inventory\] inventory ready /m);
      for (const text of output.split('\n').filter((entry) => entry !== '')) assert.ok(!text.startsWith('{'), `a JSON line in pretty output: ${text}`);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });
  }
});

describe('JSON lines, written straight to standard output', () => {
  it('writes a request\'s access line after the lines logged while it ran', async () => {
    const host = await startHostProcess({ modulesDir: makeModulesDir(['good-alpha']) });
    try {
      for (let i = 1; i <= 3; i++) assert.equal((await call(`${host.url}/api/v1/alpha/throw`, 'GET', undefined, { 'x-request-id': `order-${i}` })).status, 500);
      const at = (id: string, access: boolean): number => host.logs.findIndex((entry) => entry.requestId === id && (entry.access === true) === access);
      await eventually('the three access lines are written', () => at('order-3', true) !== -1);
      for (let i = 1; i <= 3; i++) {
        assert.notEqual(at(`order-${i}`, false), -1, `the failure of order-${i} is logged`);
        assert.ok(at(`order-${i}`, false) < at(`order-${i}`, true), `order-${i}: its failure is logged before its access line`);
      }
    } finally {
      await host.stop();
    }
  });

  it('names each field once per line: migrations, an isolated module and its crash included', async () => {
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--admin-port', '0'], {
      env: { ...process.env, ERPMOD_MODULES_DIR: makeModulesDir(['example:inventory', 'example:sales', 'isolated-faulty']), ERPMOD_DATA_DIR: makeTempDir('data'), ERPMOD_HOST: '127.0.0.1', ERPMOD_LOG_FORMAT: 'json', ERPMOD_LOG_LEVEL: 'debug' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    try {
      const port = await waitFor(() => /erpmod listening on port (\d+)/.exec(output)?.[1], () => output);
      assert.equal((await call(`http://127.0.0.1:${port}/api/v1/sales/orders`)).status, 200);
      await call(`http://127.0.0.1:${port}/api/v1/faulty/crash`);
      await waitFor(() => (output.includes('"msg":"isolated module faulty crashed"') ? true : undefined), () => output);
      const lines = output.split('\n').filter((line) => line.startsWith('{'));
      assert.ok(lines.some((line) => line.includes('applied 1 migration(s)')), 'a migration line is among them');
      for (const line of lines) assert.deepEqual(repeatedTopLevelKeys(line), [], `a field named twice in ${line}`);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });

  it('keeps serving, and exits cleanly, when the reader of its standard output goes away', async () => {
    const host = await startHostProcess({ modulesDir: makeModulesDir(['good-alpha']) });
    host.child.stdout!.destroy();
    // Each pause outlasts the access log's batch interval: every batch is written to a closed pipe.
    for (let i = 0; i < 5; i++) {
      assert.equal((await call(`${host.url}/api/v1/alpha/ping`)).status, 200);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.equal((await call(`${host.url}/api/v1/alpha/throw`)).status, 500, 'an error line to a closed pipe');
    assert.equal((await host.admin('/api/v1/system/metrics')).status, 200);
    assert.equal(await host.stop(), 0);
    assert.doesNotMatch(host.stderr(), /EPIPE|Error/, 'nothing went wrong on the way out');
  });
});

async function waitFor<T>(find: () => T | undefined, seen: () => string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out; output so far:\n${seen()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
