// `--scenario floor`: the database's floor, the ledger's own writes with nothing around them.
import { Types } from 'mongoose';
import type { LegChange } from '../../src/domain';
import { BusinessRuleError, LedgerInvariantError, Ledger } from '../../src/ledger';
import { createMetrics } from '../../src/metrics';
import { openStores } from '../../src/stores';
import { backoffDelayMs, sleep } from '../../src/support/backoff';
import { KeyedMutex } from '../../src/support/keyed-mutex';
import { cpuPerTransfer, sampleCpu } from './cpu';
import { databaseUrl, FUNDING, planTransfers, progress, round, type Result } from './run';

/**
 * The floor's legs fail like the ledger activity's, on a database stall (a socket timeout on a slow
 * day), and are retried as Temporal would retry the activity, a few times: the floor measures the
 * writes, a stall shows as retries in its row rather than ending the run.
 */
const FLOOR_RETRY = { initialMs: 200, maxMs: 5_000, maxAttempts: 5 };

async function applyLegRetried(ledger: Ledger, change: LegChange, retries: { count: number }): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await ledger.applyLeg(change);
      return;
    } catch (error) {
      const final = error instanceof BusinessRuleError || error instanceof LedgerInvariantError;
      if (final || attempt >= FLOOR_RETRY.maxAttempts) throw error;
      retries.count++;
      await sleep(backoffDelayMs(FLOOR_RETRY, attempt));
    }
  }
}

/** The floor of the database: the same ledger writes (debit then credit), no Temporal, no broker. */
export async function databaseFloor(n: number, w: number): Promise<Result> {
  const db = await openStores(databaseUrl(`mint_wallet_bench_floor_${Date.now()}`));
  try {
    progress(`database floor: ${n} transfers straight to the ledger, after funding ${w} wallets`);
    const ledger = new Ledger(db.ledger, createMetrics(), 0);
    const users = Array.from({ length: w }, () => new Types.ObjectId().toHexString());
    for (const user of users) await ledger.openWallet(user);
    const slots = new KeyedMutex(); // 64 lanes, as many as the worker's activity slots
    const retries = { count: 0 };
    await Promise.all(
      users.map((userId, i) =>
        slots.run(String(i % 64), () =>
          applyLegRetried(
            ledger,
            { transactionId: new Types.ObjectId().toHexString(), transactionType: 'TopUp', leg: 'credit', userId, amount: FUNDING },
            retries,
          ),
        ),
      ),
    );
    const transfers = planTransfers(users, n, false, n);
    const started = performance.now();
    // The load generator is the ledger's writer here: its CPU is the driver's share of the writes.
    const cpuBefore = sampleCpu({});
    await Promise.all(
      transfers.map((t, i) =>
        slots.run(String(i % 64), async () => {
          await applyLegRetried(
            ledger,
            {
              transactionId: t.transactionId,
              transactionType: 'Transfer',
              leg: 'debit',
              userId: t.fromUserId,
              amount: -t.amount,
              counterpartyUserId: t.toUserId,
            },
            retries,
          );
          await applyLegRetried(
            ledger,
            {
              transactionId: t.transactionId,
              transactionType: 'Transfer',
              leg: 'credit',
              userId: t.toUserId,
              amount: t.amount,
              counterpartyUserId: t.fromUserId,
            },
            retries,
          );
        }),
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    const cpuMsPerTransfer = cpuPerTransfer(cpuBefore, sampleCpu({}), n);
    const correct = retries.count > 0 ? `${retries.count} legs retried after a database error` : undefined;
    return {
      scenario: 'database floor',
      mode: 'ledger only',
      transfers: n,
      wallets: w,
      seconds: round(seconds),
      perSecond: round(n / seconds),
      correct,
      cpuMsPerTransfer,
    };
  } finally {
    await db.connection.dropDatabase().catch(() => undefined);
    await db.close();
  }
}
