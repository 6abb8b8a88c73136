// The bare-Temporal phase's worker, in a process of its own like the service's: the same worker
// options (createWalletWorker), activities that do nothing. Prints `ready`, then one line per
// finished transaction: `finalized <transactionId> <epoch ms>`.
import { bundleWorkflowCode } from '@temporalio/worker';
import type { WalletActivities } from '../../../workflows/contract';
import { loadConfig } from '../../../src/config';
import { createWalletWorker } from '../../../src/temporal/worker';

const activities: WalletActivities = {
  openTransaction: async () => ({ status: 'Pending' }),
  applyLeg: async (change) => ({ ...change, balanceAfter: 0, version: 0 }),
  publishFinalization: async (finalized) => {
    process.stdout.write(`finalized ${finalized.transactionId} ${Date.now()}\n`);
  },
  reversalsOf: async () => [],
  reconcileLedger: () => Promise.reject(new Error('not part of the bare phase')),
};

async function main(): Promise<void> {
  const config = loadConfig(process.env, { forService: false });
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('./workflow'), logger: silent() });
  const { worker } = await createWalletWorker({ config: config.temporal, activities, workflowBundle: { code } });
  process.once('SIGTERM', () => worker.shutdown());
  const running = worker.run();
  process.stdout.write('ready\n');
  await running;
}

function silent() {
  const nothing = () => undefined;
  return { trace: nothing, debug: nothing, info: nothing, warn: nothing, error: console.error, log: nothing };
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
