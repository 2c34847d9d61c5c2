import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort } from './support/free-port';
import { call } from './support/http-client';
import { makeTempDir, startHostProcess, type HostProcess } from './support/host-process';
import { makeModulesDir } from './support/modules-dir';

const NGINX = '/usr/sbin/nginx';

/**
 * The deployment from the issue: nginx on the same machine, `proxy_pass http://127.0.0.1:<port>` with its
 * defaults, so every client reaches the host from loopback. One server block in front of the public
 * port (what a deployment does), one in front of the admin port (the mistake to survive).
 */
describe('behind a real nginx on loopback', { skip: fs.existsSync(NGINX) ? false : `${NGINX} is not installed` }, () => {
  let host: HostProcess;
  let nginx: ChildProcess;
  let publicProxy: string;
  let adminProxy: string;
  before(async () => {
    host = await startHostProcess({ modulesDir: makeModulesDir(['good-alpha']) });
    const [publicPort, adminPort] = [await freePort(), await freePort()];
    const prefix = makeTempDir('nginx');
    const server = (listen: number, upstream: number) => `server { listen 127.0.0.1:${listen}; location / { proxy_pass http://127.0.0.1:${upstream}; } }`;
    fs.writeFileSync(path.join(prefix, 'nginx.conf'), [
      `pid ${path.join(prefix, 'nginx.pid')};`,
      `error_log ${path.join(prefix, 'error.log')} warn;`,
      'worker_processes 1;',
      'events { worker_connections 64; }',
      'http {',
      '  access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `  ${kind}_temp_path ${path.join(prefix, kind)};`),
      `  ${server(publicPort, host.port)}`,
      `  ${server(adminPort, host.adminPort)}`,
      '}',
    ].join('\n'));
    nginx = spawn(NGINX, ['-p', prefix, '-e', path.join(prefix, 'error.log'), '-c', path.join(prefix, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    nginx.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    publicProxy = `http://127.0.0.1:${publicPort}`;
    adminProxy = `http://127.0.0.1:${adminPort}`;
    const deadline = Date.now() + 10_000;
    while ((await call(`${publicProxy}/healthz`).catch(() => undefined))?.status !== 200) {
      if (nginx.exitCode !== null || Date.now() > deadline) throw new Error(`nginx did not start: ${stderr}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });
  after(async () => {
    if (nginx !== undefined && nginx.exitCode === null) {
      const exited = new Promise((resolve) => nginx.once('exit', resolve));
      nginx.kill('SIGQUIT');
      await exited;
    }
    await host?.stop();
  });

  it('in front of the public port: modules are served, no operator route is reachable, with or without a token', async () => {
    assert.equal((await call(`${publicProxy}/api/v1/alpha/ping`)).status, 200);
    for (const [method, route] of [['POST', '/plugins/alpha/disable'], ['GET', '/plugins/alpha'], ['GET', '/api/v1/system/metrics'], ['GET', '/metrics']] as const) {
      for (const headers of [{}, { authorization: `Bearer ${host.adminToken}` }] as Record<string, string>[]) {
        const reply = await call(`${publicProxy}${route}`, method, undefined, headers);
        assert.equal(reply.status, 404, `${method} ${route}`);
        assert.equal(reply.json.error.code, 'ERPMOD_OPERATOR_ROUTE_MOVED');
        assert.ok(!/shadowPath|lastLines|\.so\b/.test(reply.text), 'nothing of the module leaks');
      }
    }
    assert.equal((await call(`${publicProxy}/api/v1/alpha/ping`)).status, 200, 'alpha was not disabled');
    assert.equal((await host.admin('/plugins/alpha')).json.enabled, true);
  });

  it('in front of the admin port by mistake: still 401 without the token', async () => {
    const refused = await call(`${adminProxy}/plugins/alpha/disable`, 'POST');
    assert.equal(refused.status, 401);
    assert.equal(refused.json.error.code, 'ERPMOD_UNAUTHORIZED');
    assert.equal((await call(`${adminProxy}/plugins/alpha`)).status, 401);
    assert.equal((await call(`${publicProxy}/api/v1/alpha/ping`)).status, 200, 'alpha still serves');
    const withToken = await call(`${adminProxy}/plugins/alpha`, 'GET', undefined, { authorization: `Bearer ${host.adminToken}` });
    assert.equal(withToken.status, 200, 'the token is the credential, through a proxy too');
  });
});
