// A wallet service process that kills itself (SIGKILL) right after one chosen step of one
// transaction has done its work and before Temporal learns of it: the worst moment for a crash.
// CRASH_AFTER names the step: `applyLeg`, the ledger's application of a forward leg (written or
// refused), which happens inside the step that processes a transaction straight through; or an
// activity about a leg (`undoLeg`, `voidLeg`...). CRASH_AFTER_LEG names the leg. Run by specs as a
// child process (node --import tsx).
import { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { loadConfig } from '../../src/config';
import type { LegChange } from '../../src/domain';
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
