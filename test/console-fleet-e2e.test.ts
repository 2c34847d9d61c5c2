/**
 * The operator console of a fleet, in Chromium: two hosts on one PostgreSQL; a module's page lists
 * both instances as live, with the build each loaded, and its audit trail names the instance each
 * event happened on; once B stops and misses its beats, A's page shows it as not live. Screenshots go
 * to test-results/console/ next to the single host's.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { eventually } from './support/eventually';
import { startHostProcess, type HostProcess } from './support/host-process';
import { makeModulesDir } from './support/modules-dir';
import { withPostgresClient } from './support/postgres-client';
import { ROOT } from './support/paths';
import { startPostgres, type PostgresServer } from './support/postgres-server';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.join(ROOT, 'test-results', 'console');

/** Waits until the element's text matches (the page's CSP forbids the string evaluation waitForFunction uses). */
async function textOf(page: Page, selector: string, expected: RegExp, timeoutMs = 20_000): Promise<string> {
  let text = '';
  const matches = async (): Promise<boolean> => expected.test((text = await page.locator(selector).innerText({ timeout: timeoutMs }).catch(() => '')));
  await eventually(`${selector} reads ${String(expected)}`, matches, timeoutMs, 200).catch(() =>
    assert.fail(`${selector}: expected ${String(expected)} within ${timeoutMs} ms, last text ${JSON.stringify(text)}`));
  return text;
}

describe('the operator console of a fleet in Chromium', { skip: !fs.existsSync(CHROMIUM) && `${CHROMIUM} is not installed (scripts/install-test-packages.sh installs it)` }, () => {
  let server: PostgresServer;
  let url: string;
  const hosts: HostProcess[] = [];
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  before(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    server = await startPostgres();
    url = server.createDatabase('console_fleet');
    for (const name of ['a', 'b']) {
      hosts.push(await startHostProcess({ modulesDir: makeModulesDir(['example:inventory', 'example:sales']), env: { ERPMOD_DATABASE_URL: url, ERPMOD_INSTANCE_NAME: name }, timeoutMs: 60_000 }));
    }
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], timeout: 60_000 });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(30_000);
    page.on('console', (message) => void (message.type() === 'error' && problems.push(message.text())));
    page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  });

  after(async () => {
    await browser?.close();
    await Promise.all(hosts.map((host) => host.stop()));
    server?.stop();
  });

  it('lists both instances of sales as live, with their builds, and names the instance of each audit event', async () => {
    const [a] = hosts;
    await page.goto(`${a!.adminUrl}/console`);
    await page.getByLabel('Admin token').fill(a!.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('tr[data-code="sales"]').waitFor();
    await page.goto(`${a!.adminUrl}/console#/modules/sales`);
    await page.getByRole('heading', { name: 'Instances in the fleet' }).waitFor();
    // B's row reaches A's page once B has loaded sales and said so (the page reads every 5 s).
    for (const name of ['a', 'b']) await textOf(page, `tr[data-instance="${name}"]`, /^\s*\w+\s+live\s+active\s[\s\S]*[0-9a-f]{12}…/);
    const audit = page.getByRole('region', { name: 'Audit trail' });
    await audit.locator('thead').waitFor();
    assert.match(await audit.locator('thead').innerText(), /instance/i, `the audit trail has an instance column in a fleet: ${await audit.innerText()}`);
    const instancesOfEvents = await audit.locator('td[data-label="Instance"]').allInnerTexts();
    assert.ok(['a', 'b'].every((name) => instancesOfEvents.some((text) => text.trim() === name)), `events of both instances: ${JSON.stringify(instancesOfEvents)}`);
    await page.screenshot({ path: path.join(SHOTS, 'fleet-01-instances.png'), fullPage: true });
  });

  it('shows B as not live once it stopped and missed its beats', async () => {
    const [, b] = hosts;
    await b!.stop();
    // Missed beats, without waiting for them: B's last one moved 20 s into the past.
    await withPostgresClient(url, (client) => client.query(`UPDATE erpmod_fleet.instances SET seen_at = now() - interval '20 seconds' WHERE instance = 'b'`));
    await textOf(page, 'tr[data-instance="b"]', /^\s*b\s+not live\s/);
    assert.match(await page.locator('tr[data-instance="a"]').innerText(), /^\s*a\s+live\s/, 'A is still live');
    await page.screenshot({ path: path.join(SHOTS, 'fleet-02-instance-gone.png'), fullPage: true });
    assert.deepEqual(problems, [], 'no console errors');
  });
});
