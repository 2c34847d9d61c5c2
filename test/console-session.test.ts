/**
 * The console's server side without a browser: the page's headers, the session cookie's flags and
 * limits, CSRF on state changes, login rate limiting, the live stream and the JSON the page reads.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConsoleSessions } from '../host/console/console-session';
import { maskConfig, MASK } from '../host/console/mask-config';
import { call, type HttpReply } from './support/http-client';
import { startHostProcess, type HostProcess } from './support/host-process';
import { makeModulesDir } from './support/modules-dir';

const TOKEN = 'console-test-token-0123456789';

function sessionCookieOf(reply: HttpReply): string {
  const header = reply.headers.get('set-cookie') ?? '';
  const match = /^erpmod_console=([^;]*)/.exec(header);
  assert.ok(match !== null, `expected an erpmod_console cookie, got ${JSON.stringify(header)}`);
  return `erpmod_console=${match[1]}`;
}

describe('the console session', () => {
  let host: HostProcess;
  let cookie: string;
  let csrf: string;
  before(async () => {
    host = await startHostProcess({ modulesDir: makeModulesDir(['good-alpha']), env: { ERPMOD_ADMIN_TOKEN: TOKEN } });
    const login = await call(`${host.adminUrl}/console/login`, 'POST', { token: TOKEN });
    assert.equal(login.status, 200, login.text);
    cookie = sessionCookieOf(login);
    csrf = login.json.csrf;
  });
  after(async () => {
    await host.stop();
  });

  it('serves the page and its assets with a strict CSP, nosniff and no framing, without a token', async () => {
    const page = await call(`${host.adminUrl}/console`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    const csp = page.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /frame-ancestors 'none'/);
    assert.ok(!csp.includes('unsafe-inline') && !csp.includes('unsafe-eval'), csp);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    assert.ok(!/<script>|<script [^>]*>[^<]/.test(page.text), 'no inline script in the page');
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(page.text)?.[1];
    assert.ok(script !== undefined, page.text);
    const asset = await call(`${host.adminUrl}${script}`);
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.equal(asset.headers.get('x-content-type-options'), 'nosniff');
    assert.equal((await call(`${host.adminUrl}/console/assets/..%2Fconsole-web%2Findex.html`)).status, 404);
  });

  it('issues an HttpOnly, SameSite=Strict cookie for the right token, Secure behind https, and no cookie for a wrong one', async () => {
    const login = await call(`${host.adminUrl}/console/login`, 'POST', { token: TOKEN });
    const header = login.headers.get('set-cookie') ?? '';
    assert.match(header, /; HttpOnly/);
    assert.match(header, /; SameSite=Strict/);
    assert.match(header, /; Path=\//);
    assert.match(header, /; Max-Age=28800/);
    assert.ok(!header.includes('Secure'), 'plain http on loopback: a Secure cookie would never come back');
    const proxied = await call(`${host.adminUrl}/console/login`, 'POST', { token: TOKEN }, { 'x-forwarded-proto': 'https' });
    assert.match(proxied.headers.get('set-cookie') ?? '', /; Secure/);
    assert.ok(!JSON.stringify(host.logs).includes(TOKEN), 'the token is not logged');

    const wrong = await call(`${host.adminUrl}/console/login`, 'POST', { token: 'not-the-token' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.json.error.code, 'ERPMOD_UNAUTHORIZED');
    assert.equal(wrong.headers.get('set-cookie'), null);
    const form = await call(`${host.adminUrl}/console/login`, 'POST', `token=${TOKEN}`, { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(form.status, 415, 'a form post (what another site could send) is refused');
    const foreign = await call(`${host.adminUrl}/console/login`, 'POST', { token: TOKEN }, { origin: 'https://evil.example' });
    assert.equal(foreign.status, 403);
  });

  it('lets the cookie read operator routes and the console API, and tells the page its CSRF token', async () => {
    assert.equal((await call(`${host.adminUrl}/plugins/alpha`, 'GET', undefined, { cookie })).status, 200);
    const modules = await call(`${host.adminUrl}/console/api/modules`, 'GET', undefined, { cookie });
    assert.equal(modules.status, 200);
    const alpha = modules.json.modules.find((m: { code: string }) => m.code === 'alpha');
    assert.equal(alpha.status, 'active');
    assert.equal(alpha.health, 'serving');
    assert.equal(alpha.signature.state, 'unsigned');
    assert.match(alpha.binarySha256, /^[0-9a-f]{64}$/);
    const session = await call(`${host.adminUrl}/console/session`, 'GET', undefined, { cookie });
    assert.deepEqual([session.json.authenticated, session.json.csrf], [true, csrf]);
    assert.deepEqual((await call(`${host.adminUrl}/console/session`)).json, { authenticated: false, csrf: null, expiresAt: null });
    assert.equal((await call(`${host.adminUrl}/console/api/modules`)).status, 401, 'no cookie, no token');
  });

  it('refuses a state change by cookie without the CSRF header, or with another one; nothing changes', async () => {
    for (const headers of [{ cookie }, { cookie, 'x-erpmod-csrf': 'guess' }] as Record<string, string>[]) {
      const refused = await call(`${host.adminUrl}/plugins/alpha/disable`, 'POST', undefined, headers);
      assert.equal(refused.status, 403, refused.text);
      assert.equal(refused.json.error.code, 'ERPMOD_CSRF_REJECTED');
    }
    assert.equal((await call(`${host.url}/api/v1/alpha/ping`)).status, 200, 'alpha still serves');
    const foreign = await call(`${host.adminUrl}/plugins/alpha/disable`, 'POST', undefined, { cookie, 'x-erpmod-csrf': csrf, origin: 'https://evil.example' });
    assert.equal(foreign.json.error.code, 'ERPMOD_FOREIGN_ORIGIN');

    const done = await call(`${host.adminUrl}/plugins/alpha/disable`, 'POST', undefined, { cookie, 'x-erpmod-csrf': csrf, origin: host.adminUrl });
    assert.equal(done.status, 200, done.text);
    assert.equal((await call(`${host.url}/api/v1/alpha/ping`)).status, 503);
    assert.equal((await call(`${host.adminUrl}/plugins/alpha/enable`, 'POST', undefined, { cookie, 'x-erpmod-csrf': csrf })).status, 200);
    assert.equal((await call(`${host.url}/api/v1/alpha/ping`)).status, 200);
  });

  it('refuses an altered cookie, and judges a bearer token on its own when one is sent', async () => {
    const [, expires, nonce, mac] = /^erpmod_console=(\d+)\.([^.]+)\.(.+)$/.exec(cookie)!;
    const extended = `erpmod_console=${Number(expires) + 365 * 24 * 3600 * 1000}.${nonce}.${mac}`;
    assert.equal((await call(`${host.adminUrl}/plugins`, 'GET', undefined, { cookie: extended })).status, 401, 'the expiry is signed');
    const wrongBearer = await call(`${host.adminUrl}/plugins`, 'GET', undefined, { cookie, authorization: 'Bearer wrong' });
    assert.equal(wrongBearer.status, 401);
  });

  it('does nothing on the public listener', async () => {
    const plugins = await call(`${host.url}/plugins/alpha/disable`, 'POST', undefined, { cookie, 'x-erpmod-csrf': csrf });
    assert.equal(plugins.status, 404);
    assert.equal(plugins.json.error.code, 'ERPMOD_OPERATOR_ROUTE_MOVED');
    assert.equal((await call(`${host.url}/console`, 'GET', undefined, { cookie })).status, 404);
    assert.equal((await call(`${host.url}/console/api/modules`, 'GET', undefined, { cookie })).status, 404);
    assert.equal((await call(`${host.url}/api/v1/alpha/ping`)).status, 200);
  });

  it('streams the audit trail and metrics as server-sent events', async () => {
    const controller = new AbortController();
    const response = await fetch(`${host.adminUrl}/console/api/live`, { headers: { cookie }, signal: controller.signal });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    const reader = response.body!.getReader();
    let text = '';
    const readUntil = async (pattern: RegExp): Promise<void> => {
      const deadline = Date.now() + 15_000;
      while (!pattern.test(text)) {
        assert.ok(Date.now() < deadline, `no ${pattern} in the stream within 15 s:\n${text}`);
        const { value, done } = await reader.read();
        if (done) assert.fail(`the stream ended:\n${text}`);
        text += Buffer.from(value).toString('utf8');
      }
    };
    await readUntil(/event: audit\ndata: \{[^\n]*"kind":"loaded"/);
    await readUntil(/event: metrics\ndata: \{[^\n]*"alpha":\{"requests":\d+/);
    await call(`${host.adminUrl}/plugins/alpha/reload`, 'POST', undefined, { authorization: `Bearer ${TOKEN}` });
    await readUntil(/event: audit\ndata: \{[^\n]*"code":"alpha","kind":"reloaded"/);
    controller.abort();
  });

  it('renders the compliance report as the CLI does, and refuses a pack that is not one', async () => {
    const report = await call(`${host.adminUrl}/console/api/modules/alpha/compliance`, 'GET', undefined, { cookie });
    assert.equal(report.status, 200, report.text);
    assert.match(report.json.text, /✔ alpha 1\.0\.0/);
    assert.equal(report.json.report.ok, true);
    const junk = await call(`${host.adminUrl}/console/api/packs/preview`, 'POST', { data: Buffer.from('not a pack').toString('base64') }, { cookie, 'x-erpmod-csrf': csrf });
    assert.equal(junk.status, 200, junk.text);
    assert.equal(junk.json.ok, false);
    assert.equal(junk.json.error.code, 'ERPMOD_PACK_INVALID');
    assert.equal(junk.json.uploadId, null);
    const unknown = await call(`${host.adminUrl}/console/api/packs/apply`, 'POST', { uploadId: '0'.repeat(32) }, { cookie, 'x-erpmod-csrf': csrf });
    assert.equal(unknown.status, 404);
  });

  it('logs out by expiring the cookie', async () => {
    const logout = await call(`${host.adminUrl}/console/logout`, 'POST', undefined, { cookie });
    assert.match(logout.headers.get('set-cookie') ?? '', /^erpmod_console=; Max-Age=0;/);
  });

  // Last: it locks this client address out for five minutes.
  it('refuses logins from an address after 10 failures, even with the right token', async () => {
    let reply: HttpReply | undefined;
    for (let attempt = 0; attempt < 12; attempt++) reply = await call(`${host.adminUrl}/console/login`, 'POST', { token: `wrong-${attempt}` });
    assert.equal(reply!.status, 429);
    assert.equal(reply!.json.error.code, 'ERPMOD_TOO_MANY_ATTEMPTS');
    const right = await call(`${host.adminUrl}/console/login`, 'POST', { token: TOKEN });
    assert.equal(right.status, 429);
    assert.equal((await host.admin('/plugins')).status, 200, 'the bearer token still works');
  });
});

describe('an open console and shutdown', () => {
  it('ends its live stream when the host stops, so the drain does not wait out shutdown_timeout_ms', async () => {
    const host = await startHostProcess({ modulesDir: makeModulesDir(['good-alpha']), env: { ERPMOD_ADMIN_TOKEN: TOKEN, ERPMOD_SHUTDOWN_TIMEOUT_MS: '30000' } });
    const response = await fetch(`${host.adminUrl}/console/api/live`, { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(response.status, 200);
    const ended = response.text();
    const started = Date.now();
    assert.equal(await host.stop(), 0);
    await ended;
    const tookMs = Date.now() - started;
    assert.ok(tookMs < 15_000, `the host took ${tookMs} ms to stop with a console stream open`);
  });
});

describe('console sessions and configuration masking', () => {
  it('expire after their lifetime and do not survive a new admin token', () => {
    let now = 1_000_000;
    const sessions = new ConsoleSessions('token-a', () => now, 60_000);
    const { value, session } = sessions.issue();
    assert.deepEqual(sessions.verify(value), session);
    now += 59_999;
    assert.ok(sessions.verify(value) !== undefined);
    now += 1;
    assert.equal(sessions.verify(value), undefined, 'expired');
    assert.equal(new ConsoleSessions('token-b', () => 1_000_000, 60_000).verify(value), undefined, 'another admin token');
  });

  it('masks values of keys that look like secrets, at any depth', () => {
    assert.deepEqual(maskConfig({ tax_rate_bp: 2000, api_key: 'abc', db: { password: 'p', host: 'h' }, tokens: ['a', 'b'], secret_empty: '' }), {
      tax_rate_bp: 2000, api_key: MASK, db: { password: MASK, host: 'h' }, tokens: MASK, secret_empty: '',
    });
  });
});
