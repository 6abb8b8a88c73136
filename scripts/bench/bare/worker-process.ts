// The bare-Temporal phase's worker, in a process of its own like the service's: the same worker
// options (createWalletWorker), activities that do nothing. Prints `ready`, then one line per
// finished transaction: `finalized <transactionId> <epoch ms>`.
import { bundleWorkflowCode } from '@temporalio/worker';
import type { TransactionActivities, WalletActivities } from '../../../activities';
import { loadConfig } from '../../../src/config';
import { processStraightThrough } from '../../../src/domain';
import { createWalletWorker } from '../../../src/temporal/worker';
import { startTracing } from '../../../src/tracing/tracing';

const notPartOfIt = () => Promise.reject(new Error('not part of the bare phase'));
const openRecord: TransactionActivities['openRecord'] = async (opening) => ({
  terms: opening.terms,
  openingReason: null,
  first: null,
  rollback: null,
});
const applyForwardLeg: TransactionActivities['applyForwardLeg'] = async (change) => ({
  kind: 'applied',
  leg: { ...change, balanceAfter: 0, version: 0 },
  predatesRecord: false,
});
const announceOutcome: TransactionActivities['announceOutcome'] = async (transactionId) => {
  process.stdout.write(`finalized ${transactionId} ${Date.now()}\n`);
  return { kind: 'announced' };
};
const activities: TransactionActivities = {
  openRecord,
  processStraightThrough: (opening) =>
    processStraightThrough(opening, {
      open: openRecord,
      apply: applyForwardLeg,
      announceCompleted: (legs) => announceOutcome(opening.transactionId, 'first', { status: 'Completed' }, legs),
    }),
  adoptLedger: notPartOfIt,
  applyForwardLeg,
  recordDecision: notPartOfIt,
  voidLeg: notPartOfIt,
  undoLeg: notPartOfIt,
  announceOutcome,
};

async function main(): Promise<void> {
  const config = loadConfig(process.env, { forService: false });
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('./workflow'), logger: silent() });
  const { worker } = await createWalletWorker({
    config: config.temporal,
    activities: activities as WalletActivities,
    workflowBundle: { code },
    tracing: startTracing(undefined, 'bench-bare-worker'),
  });
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
