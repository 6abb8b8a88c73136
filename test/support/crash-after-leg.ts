// A wallet service process that kills itself (SIGKILL) right after the ledger activity of one chosen
// leg has written its entry and before Temporal learns the activity completed: the worst moment
// for a crash. Run by the crash-safety spec as a child process (node --import tsx).
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { loadConfig } from '../../src/config';
import type { LegChange } from '../../workflows/contract';
import { createLogger } from '../../src/logger';
import { startWalletService } from '../../src/service';

const transactionId = process.env.CRASH_TRANSACTION_ID;
const leg = process.env.CRASH_AFTER_LEG;

const crashAfterLeg: ActivityInterceptorsFactory = () => ({
  inbound: {
    async execute(input, next) {
      const result = await next(input);
      const change = input.args[0] as Partial<LegChange> | undefined;
      if (change?.transactionId === transactionId && change?.leg === leg) process.kill(process.pid, 'SIGKILL');
      return result;
    },
  },
});

const config = loadConfig();
void startWalletService(config, {
  logger: createLogger(config.logLevel, { process: 'crash-after-leg' }),
  workflowBundle: { codePath: process.env.WALLET_TEST_WORKFLOW_BUNDLE! },
  workerInterceptors: { activity: [crashAfterLeg] },
}).then(() => process.stdout.write('ready\n'));
