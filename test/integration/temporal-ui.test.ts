import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { transactionWorkflowId } from '../../workflows/wallet-transaction/definitions';
import { REPO_ROOT } from '../support/tools';
import { WalletHarness } from '../support/wallet-harness';

// Operators find a customer's transaction in the Temporal UI by its search attributes. This drives
// the real UI (served by the test's Temporal dev server) in Debian's headless Chromium.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');
const available = existsSync(CHROMIUM) && !!process.env.WALLET_TEST_TEMPORAL_UI;
if (!available) console.warn(`skipping the Temporal UI check: no Chromium at ${CHROMIUM} (the test bootstrap installs Debian's chromium)`);

(available ? describe : describe.skip)('the Temporal UI', () => {
  let wallet: WalletHarness;
  let browser: Browser;

  beforeAll(async () => {
    wallet = await WalletHarness.start('temporal-ui');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await wallet?.stop();
  });

  it('finds the execution of a transaction by filtering on WalletTransactionId', async () => {
    const sender = await wallet.fundedUser(900);
    const [recipient] = await wallet.signedUp(1);
    const { transactionId } = await wallet.transfer(sender, recipient, 321);
    const workflowId = transactionWorkflowId(transactionId);

    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const query = encodeURIComponent(`WalletTransactionId="${transactionId}"`);
    const listUrl = `${process.env.WALLET_TEST_TEMPORAL_UI}/namespaces/default/workflows?query=${query}`;
    // Visibility is eventually consistent: reload until the execution is listed.
    let link = page.getByRole('link', { name: workflowId });
    for (let attempt = 0; attempt < 10; attempt++) {
      await page.goto(listUrl, { waitUntil: 'networkidle' });
      link = page.getByRole('link', { name: workflowId });
      if ((await link.count()) > 0) break;
      await page.waitForTimeout(1_000);
    }
    mkdirSync(ARTIFACTS, { recursive: true });
    if ((await link.count()) === 0) await page.screenshot({ path: path.join(ARTIFACTS, 'temporal-ui-list-not-found.png'), fullPage: true });
    expect(await link.count()).toBeGreaterThan(0);
    expect(await page.getByText(`wallet-transaction-`).count()).toBeGreaterThan(0);

    await link.first().click();
    await page.waitForURL(new RegExp(`/workflows/${workflowId}/`));
    await page.getByText(workflowId).first().waitFor({ timeout: 20_000 });
    await page.getByText('walletTransaction').first().waitFor({ timeout: 20_000 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'temporal-ui-transaction.png'), fullPage: true });
  });
});
