// The wallet service as the benchmark runs it, in a process of its own (so its memory is its own).
// With BENCH_NOOP_LEDGER=1 the ledger activity does nothing: the same bridge, Temporal server,
// worker, workflow and finalization, without the database writes: the ceiling to compare with.
import { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import { loadConfig } from '../../src/config';
import type { ForwardLegOutcome, LegChange } from '../../src/domain';
import { createLogger } from '../../src/logger';
import { startWalletService } from '../../src/service';

const noopLedger: ActivityInterceptorsFactory = () => ({
  inbound: {
    async execute(input, next) {
      if (Context.current().info.activityType !== 'applyForwardLeg') return next(input);
      const { transactionId, leg, userId, amount } = input.args[0] as LegChange;
      const applied: ForwardLegOutcome = {
        kind: 'applied',
        leg: { transactionId, leg, userId, amount, balanceAfter: 0, version: 0 },
        predatesRecord: false,
      };
      return applied;
    },
  },
});

const config = loadConfig();
const logger = createLogger(config.logLevel, { process: 'bench-service' });
startWalletService(config, {
  logger,
  workerInterceptors: process.env.BENCH_NOOP_LEDGER === '1' ? { activity: [noopLedger] } : undefined,
})
  .then((service) => {
    process.stdout.write('ready\n');
    process.once('SIGTERM', () => void service.stop().then(() => process.exit(0)));
  })
  .catch((error: unknown) => {
    logger.fatal({ err: error }, 'bench service failed');
    process.exit(1);
  });

if (process.env.BENCH_MEMORY_LOG === '1') {
  setInterval(() => {
    const m = process.memoryUsage();
    process.stderr.write(
      `[memory] rss ${(m.rss / 2 ** 20).toFixed(0)} heapUsed ${(m.heapUsed / 2 ** 20).toFixed(0)} heapTotal ${(m.heapTotal / 2 ** 20).toFixed(0)} external ${(m.external / 2 ** 20).toFixed(0)} arrayBuffers ${(m.arrayBuffers / 2 ** 20).toFixed(0)}\n`,
    );
  }, 5_000).unref();
}
