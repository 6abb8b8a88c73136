// One reconciliation pass in a process of its own, so that its memory can be read alone: the
// reconciliation the service's scheduled workflow runs, over the database DATABASE_URL names.
// Prints the report as one JSON line.
import { loadConfig } from '../../src/config';
import { Ledger } from '../../src/ledger';
import { reconcile, reconciliationOver } from '../../src/reconciliation/reconciliation';
import { createMetrics } from '../../src/metrics';
import { openStores } from '../../src/stores';

async function main(): Promise<void> {
  const config = loadConfig(process.env, { forService: false });
  const stores = await openStores(config.mongo.url);
  try {
    const ledger = new Ledger(stores.ledger, createMetrics(), 0);
    const report = await reconcile(reconciliationOver(stores, ledger), {
      owner: `bench:${process.pid}`,
      mode: process.argv.includes('--full') ? 'full' : 'incremental',
      stalledAfterMs: config.wallet.reconciliationStalledAfterMinutes * 60_000,
    });
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } finally {
    await stores.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
