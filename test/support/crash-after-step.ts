// A wallet service process that kills itself (SIGKILL) right after one chosen step of one
// transaction has done its work and before Temporal learns of it: the worst moment for a crash.
// CRASH_AFTER names the step: `applyLeg`, the ledger's application of a forward leg (written or
// refused), or `publish`, the broker's confirm of the transaction's finalization, both of which
// happen inside the step that processes a transaction straight through; or an activity about a leg
// (`undoLeg`, `voidLeg`...). CRASH_AFTER_LEG names the leg (unused by `publish`). Run by specs as a
// child process (node --import tsx).
import { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { loadConfig } from '../../src/config';
import type { LegChange } from '../../src/domain';
import { FinalizationPublisher } from '../../src/finalization/publisher';
import { createLogger } from '../../src/logger';
import { startWalletService } from '../../src/service';

const transactionId = process.env.CRASH_TRANSACTION_ID;
const after = process.env.CRASH_AFTER;
const leg = process.env.CRASH_AFTER_LEG;
const chosen = (change: Partial<LegChange> | undefined) => change?.transactionId === transactionId && change?.leg === leg;
const crash = () => process.kill(process.pid, 'SIGKILL');

const crashAfterActivity: ActivityInterceptorsFactory = () => ({
  inbound: {
    async execute(input, next) {
      const result = await next(input);
      if (Context.current().info.activityType === after && chosen(input.args[0] as Partial<LegChange> | undefined)) crash();
      return result;
    },
  },
});

if (after === 'publish') {
  // The announcer's publisher is built inside the service: the crash goes on every publisher's method.
  const { publish } = Object.getOwnPropertyDescriptors(FinalizationPublisher.prototype);
  FinalizationPublisher.prototype.publish = async function (this: FinalizationPublisher, finalized, position) {
    await (publish.value as FinalizationPublisher['publish']).call(this, finalized, position);
    if (finalized.transactionId === transactionId) crash();
  };
}

const config = loadConfig();
void startWalletService(config, {
  logger: createLogger(config.logLevel, { process: 'crash-after-step' }),
  workflowBundle: { codePath: process.env.WALLET_TEST_WORKFLOW_BUNDLE! },
  workerInterceptors: { activity: [crashAfterActivity] },
}).then(({ ledger }) => {
  if (after === 'applyLeg') {
    const apply = ledger.applyLeg.bind(ledger);
    ledger.applyLeg = (change, signal) =>
      apply(change, signal).finally(() => {
        if (chosen(change)) crash();
      });
  }
  process.stdout.write('ready\n');
});
