// A wallet service process that kills itself (SIGKILL) right after one chosen step of one
// transaction has done its work and before Temporal learns the activity completed: the worst
// moment for a crash. The step is an activity (CRASH_AFTER_ACTIVITY, by default the one applying a
// forward leg) about a leg (CRASH_AFTER_LEG). Run by specs as a child process (node --import tsx).
import { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { loadConfig } from '../../src/config';
import type { LegChange } from '../../src/domain';
import { createLogger } from '../../src/logger';
import { startWalletService } from '../../src/service';

const transactionId = process.env.CRASH_TRANSACTION_ID;
const activity = process.env.CRASH_AFTER_ACTIVITY ?? 'applyForwardLeg';
const leg = process.env.CRASH_AFTER_LEG;

const crashAfterStep: ActivityInterceptorsFactory = () => ({
  inbound: {
    async execute(input, next) {
      const result = await next(input);
      const change = input.args[0] as Partial<LegChange> | undefined;
      const chosen = Context.current().info.activityType === activity && change?.transactionId === transactionId && change?.leg === leg;
      if (chosen) process.kill(process.pid, 'SIGKILL');
      return result;
    },
  },
});

const config = loadConfig();
void startWalletService(config, {
  logger: createLogger(config.logLevel, { process: 'crash-after-step' }),
  workflowBundle: { codePath: process.env.WALLET_TEST_WORKFLOW_BUNDLE! },
  workerInterceptors: { activity: [crashAfterStep] },
}).then(() => process.stdout.write('ready\n'));
