/**
 * The operator console in a real browser (Debian's Chromium through playwright-core) against a real
 * host serving both example modules: a wrong token refused; log in; both modules listed; a disable
 * refused for its dependents; sales disabled with the keyboard and its routes answering 503 to another
 * client; enabled again; live metrics moving without a reload; a signed pack uploaded, checked and
 * applied, its new version active; the audit trail live. Screenshots at 1280×800 and at a phone width
 * go to test-results/console/ for review. No console error and no uncaught page error is allowed
 * beyond the failed requests the scenario provokes on purpose (401 for the wrong token, 409 for the
 * refused disable).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { packModule } from '../host/packaging/pack-module';
import { generateKeyPair } from '../host/packaging/signing-keys';
import { buildSalesVariant, installSalesVariant } from './support/build-sales-variant';
import { call } from './support/http-client';
import { makeTempDir, startHostProcess, type HostProcess } from './support/host-process';
import { makeModulesDir } from './support/modules-dir';
import { ROOT } from './support/paths';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.join(ROOT, 'test-results', 'console');
/** Polls `condition` (the page's CSP forbids the string evaluation waitForFunction uses). */
async function waitUntil(condition: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`waited ${timeoutMs} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Evaluated in the page (this file is compiled without DOM types). */
const activeText = 'document.activeElement?.textContent';
const EXPECTED_FAILED_LOADS = /Failed to load resource: the server responded with a status of (401|409)/;

describe('the operator console in Chromium', { skip: !fs.existsSync(CHROMIUM) && `${CHROMIUM} is not installed (scripts/install-test-packages.sh installs it)` }, () => {
  let host: HostProcess;
  let browser: Browser;
  let page: Page;
  let pack: string;
  const problems: string[] = [];
  const expectedFailures: string[] = [];

  before(async () => {
    fs.rmSync(SHOTS, { recursive: true, force: true });
    fs.mkdirSync(SHOTS, { recursive: true });
    const scratch = makeTempDir('console-e2e');
    // sales 1.5.0, packed and signed the way a vendor ships it.
    const variant = buildSalesVariant('1.5.0');
    const source = makeModulesDir(['example:sales']);
    installSalesVariant(source, variant);
    const keys = generateKeyPair(path.join(scratch, 'vendor'));
    pack = packModule(path.join(source, 'sales'), { keyFile: keys.privateKeyFile, out: path.join(scratch, 'sales-1.5.0.tgz') }).file;

    host = await startHostProcess({
      modulesDir: makeModulesDir(['example:inventory', 'example:sales']),
      env: { ERPMOD_TRUSTED_KEYS: fs.readFileSync(keys.publicKeyFile, 'utf8').trim() },
    });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], timeout: 60_000 });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.setDefaultTimeout(30_000);
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      (EXPECTED_FAILED_LOADS.test(message.text()) ? expectedFailures : problems).push(message.text());
    });
    page.on('pageerror', (error) => problems.push(`uncaught: ${error.message}`));
  });

  after(async () => {
    await browser?.close();
    await host?.stop();
  });

  const shot = async (name: string, fullPage = true): Promise<void> => {
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage });
  };

  it('refuses a wrong token with the reason, and lets the right one in to see both modules', async (t) => {
    t.diagnostic(`screenshots: ${SHOTS}`);
    await page.goto(`${host.adminUrl}/console`);
    await page.getByLabel('Admin token').fill('not-the-token');
    await page.getByLabel('Admin token').press('Enter');
    await page.getByRole('alert').filter({ hasText: 'ERPMOD_UNAUTHORIZED' }).waitFor();
    await shot('01-login-refused');
    assert.equal((await page.context().cookies()).length, 0, 'no cookie for a wrong token');

    await page.getByLabel('Admin token').fill(host.adminToken);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('tr[data-code="sales"]').waitFor();
    await page.locator('tr[data-code="inventory"]').waitFor();
    const cookie = (await page.context().cookies()).find((c) => c.name === 'erpmod_console');
    assert.ok(cookie !== undefined && cookie.httpOnly && cookie.sameSite === 'Strict', JSON.stringify(cookie));
    const sales = page.locator('tr[data-code="sales"]');
    assert.match(await sales.innerText(), /1\.4\.0[\s\S]*active[\s\S]*serving[\s\S]*in-process[\s\S]*main/);
    assert.match(await page.locator('tr[data-code="inventory"]').innerText(), /sales/, 'inventory lists sales as a dependent');
    await page.getByPlaceholder(/Filter/).fill('inventory');
    await sales.waitFor({ state: 'detached' });
    await page.getByPlaceholder(/Filter/).fill('');
    await sales.waitFor();
    await shot('02-modules');
  });

  it('shows why inventory cannot be disabled while sales depends on it', async () => {
    await page.locator('a.module-link', { hasText: 'inventory' }).click();
    await page.getByRole('heading', { name: /Inventory/ }).waitFor();
    // No request has reached inventory yet: its percentiles are unknown, not 0 ms.
    assert.equal(await page.locator('dl.stats div', { hasText: 'Total' }).locator('dd').innerText(), '0');
    assert.deepEqual(await page.locator('dl.stats div', { hasText: /^p(50|99)/ }).locator('dd').allInnerTexts(), ['—', '—']);
    await page.getByRole('button', { name: 'Disable' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Disable' }).click();
    const refusal = page.getByRole('alert').filter({ hasText: 'refused' });
    await refusal.waitFor();
    assert.match(await refusal.innerText(), /ERPMOD_OPERATION_CONFLICT[\s\S]*sales/);
    assert.equal((await call(`${host.url}/api/v1/inventory/items`)).status !== 503, true, 'inventory still serves');
    await shot('03-disable-refused');
  });

  it('disables sales from the keyboard; another client then gets 503 from its routes; enable brings them back', async () => {
    await page.goto(`${host.adminUrl}/console#/modules/sales`);
    await page.getByRole('heading', { name: /Sales/ }).waitFor();
    // Tab from the top of the page to the Disable button, then Enter; in the dialog Tab to confirm.
    let reached = false;
    for (let presses = 0; presses < 30 && !reached; presses++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(activeText) === 'Disable';
    }
    assert.ok(reached, 'Disable is reachable with Tab');
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    assert.equal(await page.evaluate(activeText), 'Cancel', 'focus starts on Cancel');
    await shot('04-confirm-disable', false);
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.getByRole('status').filter({ hasText: 'sales disabled' }).waitFor();
    const disabled = await call(`${host.url}/api/v1/sales/orders`);
    assert.equal(disabled.status, 503, disabled.text);
    assert.equal(disabled.json.error.code, 'ERPMOD_MODULE_DISABLED');
    await shot('05-sales-disabled');

    await page.getByRole('button', { name: 'Enable' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Enable' }).click();
    await page.getByRole('status').filter({ hasText: 'sales enabled' }).waitFor();
    assert.equal((await call(`${host.url}/api/v1/sales/orders`)).status, 200);
  });

  it('updates the request count without a reload while traffic flows', async () => {
    const total = page.locator('[data-metric="total"]');
    const before = Number(await total.innerText());
    for (let i = 0; i < 40; i++) await call(`${host.url}/api/v1/sales/orders`);
    await waitUntil(async () => Number(await total.innerText()) >= before + 40, 'the request total to grow by 40 without a reload');
    await page.getByRole('button', { name: 'Run the check' }).click();
    const report = page.locator('pre.report', { hasText: 'sales 1.4.0' });
    await report.waitFor();
    assert.match(await report.innerText(), /✔ sales 1\.4\.0[\s\S]*manifest\/schema/);
    await shot('06-sales-live');
  });

  it('uploads a signed pack, shows verification and the check, and after confirmation serves the new version', async () => {
    await page.getByRole('link', { name: 'Install pack' }).click();
    await page.getByLabel(/Module pack/).setInputFiles(pack);
    await page.getByRole('button', { name: 'Verify and check' }).click();
    await page.getByRole('heading', { name: 'Ready to install sales 1.5.0' }).waitFor({ timeout: 60_000 });
    const preview = await page.locator('section[aria-labelledby="preview-title"]').innerText();
    assert.match(preview, /Replaces sales 1\.4\.0/);
    assert.match(preview, /Signed by key [0-9a-f]{16}/);
    assert.match(preview, /pass\s+binary\/signature\s+signed by trusted key/i);
    assert.match(preview, /✔ sales 1\.5\.0  sales\n/, 'the report names the pack\'s directory, not the scratch one');
    assert.equal((await call(`${host.url}/api/v1/sales/orders`)).headers.get('x-erpmod-module'), 'sales/1.4.0', 'nothing changed yet');
    await shot('07-pack-checked');

    await page.getByRole('button', { name: /Install sales 1\.5\.0/ }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Install and reload' }).click();
    await page.getByRole('status').filter({ hasText: 'sales 1.5.0 is installed and active' }).waitFor({ timeout: 60_000 });
    assert.equal((await call(`${host.url}/api/v1/sales/orders`)).headers.get('x-erpmod-module'), 'sales/1.5.0');
    await page.getByRole('link', { name: 'Modules' }).click();
    const sales = page.locator('tr[data-code="sales"]');
    await sales.filter({ hasText: '1.5.0' }).waitFor();
    assert.match(await sales.innerText(), /1\.5\.0[\s\S]*active[\s\S]*valid/);
    await shot('08-modules-after-install');
  });

  it('shows the audit trail as it happens', async () => {
    await page.getByRole('link', { name: 'Activity' }).click();
    await page.locator('tr[data-event="reloaded"]').first().waitFor();
    await host.admin('/plugins/inventory/reload', 'POST');
    await waitUntil(async () => (await page.locator('tr[data-event="reloaded"]').count()) >= 2, 'the inventory reload to appear');
    await shot('09-activity');
  });

  it('is readable at a phone width', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('link', { name: 'Modules' }).click();
    await page.locator('tr[data-code="sales"]').waitFor();
    await shot('10-phone-modules');
    await page.goto(`${host.adminUrl}/console#/modules/sales`);
    await page.getByRole('heading', { name: /Sales/ }).waitFor();
    await shot('11-phone-sales');
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow}px at 390px`);
  });

  it('logged no console error and threw nothing, beyond the refusals it provoked', () => {
    assert.deepEqual(problems, [], problems.join('\n'));
    assert.equal(expectedFailures.length, 2, expectedFailures.join('\n'));
  });
});
