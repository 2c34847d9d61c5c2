import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { describe, it } from 'node:test';
import { call } from './support/http-client';
import { makeTempDir } from './support/host-process';
import { makeModulesDir } from './support/modules-dir';
import { CLI } from './support/paths';

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

async function waitFor<T>(find: () => T | undefined, seen: () => string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out; output so far:\n${seen()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
