// The wallet service as the benchmark runs it, in a process of its own (so its memory is its own).
// With BENCH_NOOP_LEDGER=1 the ledger applies no forward leg: the same bridge, Temporal server,
// worker, workflow and finalization, without the legs' database writes: the ceiling to compare with.
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import type { Ledger } from '../../src/ledger';
import { startWalletService } from '../../src/service';

/** Every forward leg answers as applied, and nothing is written. */
function applyNothing(ledger: Ledger): void {
  ledger.applyLeg = async ({ transactionId, leg, userId, amount }) => ({
    leg: { transactionId, leg, userId, amount, balanceAfter: 0, version: 0 },
    predatesRecord: false,
    undone: false,
  });
}

const config = loadConfig();
const logger = createLogger(config.logLevel, { process: 'bench-service' });
startWalletService(config, { logger })
  .then((service) => {
    if (process.env.BENCH_NOOP_LEDGER === '1') applyNothing(service.ledger);
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
