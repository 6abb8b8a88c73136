// The end-to-end scenarios (uniform, hot wallet, offered rate, no-op ledger, long run): transfers
// published as the platform would, through a service process, until each is finalized.
import { Types } from 'mongoose';
import { ENTRIES_ONLY, verifyChain, type LedgerEntryDocument } from '../../src/ledger';
import { openStores, type Stores } from '../../src/stores';
import { cpuPerTransfer, sampleCpu } from './cpu';
import { fundedWallets } from './funding';
import { LoadDriver, percentile } from './load';
import { table } from './report';
import { roundTripsPerTransfer, sampleRoundTrips } from './round-trips';
import {
  databaseUrl,
  finalizeTimeoutMs,
  FUNDING,
  planTransfers,
  progress,
  RABBITMQ_URL,
  round,
  serviceEnvironment,
  settle,
  type Result,
  type Transfer,
} from './run';
import { ServiceProcess } from './service-process';
import { growthPerTransfer, snapshotStores } from './store-growth';

/** Money conserved, nothing negative, ledgers gapless, each transfer finalized once. */
async function checkCorrectness(db: Stores, driver: LoadDriver, users: string[], transfers: Transfer[], noop: boolean): Promise<string> {
  const repeated = transfers.filter((t) => driver.finalizationsOf(t.transactionId).length !== 1).length;
  if (repeated > 0) return `FAILED: ${repeated} transfers not finalized exactly once`;
  if (noop) return 'finalized once each (no ledger)';
  const wallets = await db.ledger.wallets.find().lean().exec();
  const total = wallets.reduce((sum, w) => sum + w.balance, 0);
  if (total !== users.length * FUNDING) return `FAILED: ${total} held, ${users.length * FUNDING} topped up`;
  if (wallets.some((w) => w.balance < 0)) return 'FAILED: a negative balance';
  // Streamed in batches and sorted here: FerretDB sorts in memory, and 110,000 entries sorted there
  // outlasted the socket timeout, which ended the 50,000-transfer run before its check.
  const byUser = new Map<string, LedgerEntryDocument[]>();
  for await (const e of db.ledger.entries.find(ENTRIES_ONLY).lean<LedgerEntryDocument>().cursor()) {
    const userId = e.userId.toHexString();
    const chain = byUser.get(userId) ?? [];
    chain.push(e);
    byUser.set(userId, chain);
  }
  for (const wallet of wallets) {
    const ledger = (byUser.get(wallet.userId.toHexString()) ?? []).sort((a, b) => a.version - b.version);
    verifyChain(wallet.userId.toHexString(), ledger);
    if (ledger.at(-1)?.balanceAfter !== wallet.balance) return `FAILED: wallet ${wallet.userId.toHexString()} differs from its ledger`;
  }
  const failed = transfers.filter((t) => driver.finalizationsOf(t.transactionId)[0].status !== 'Completed').length;
  return `ok: conserved, none negative, ledgers gapless, each finalized once (${failed} Failed)`;
}

export interface Phase {
  name: string;
  n: number;
  hot?: boolean;
  rate?: number;
}

/**
 * One service process and one set of funded wallets, then phases of transfers one after another
 * (money stays conserved across them, so each phase is checked on the cumulative state).
 */
export async function runSession(
  session: string,
  w: number,
  noop: boolean,
  phases: Array<Phase | ((done: Result[]) => Phase)>,
): Promise<Result[]> {
  const database = `mint_wallet_bench_${session}_${Date.now()}`;
  const db = await openStores(databaseUrl(database));
  const driver = await LoadDriver.connect(RABBITMQ_URL);
  const service = await ServiceProcess.start(serviceEnvironment(database), noop);
  const results: Result[] = [];
  const allTransfers: Transfer[] = [];
  try {
    // A no-op ledger needs no wallets: the ceiling measures the transfers alone.
    progress(`${session}: ${noop ? 'no wallets to fund' : `funding ${w} wallets`}`);
    const users = noop
      ? Array.from({ length: w }, () => new Types.ObjectId().toHexString())
      : await fundedWallets(driver, db, { count: w, amount: FUNDING, timeoutMs: finalizeTimeoutMs(w) });
    for (const next of phases) {
      const phase = typeof next === 'function' ? next(results) : next;
      const transfers = planTransfers(users, phase.n, phase.hot ?? false, phase.n + w + results.length);
      allTransfers.push(...transfers);
      progress(`${phase.name}: ${phase.n} transfers${phase.rate ? ` offered at ${phase.rate}/s` : ' as fast as the broker takes them'}`);
      await settle(`${phase.name}: before the phase`);
      const storesBefore = await snapshotStores(db.connection);
      service.resetPeak();
      const roundTripsBefore = await sampleRoundTrips(service.port);
      const cpuBefore = sampleCpu({ service: service.pid });
      const started = performance.now();
      for (const [i, t] of transfers.entries()) {
        if (phase.rate) {
          const wait = started + (i * 1000) / phase.rate - performance.now();
          if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        }
        await driver.completed(t.transactionId, { type: 'Transfer', fromUserId: t.fromUserId, toUserId: t.toUserId, amount: t.amount });
      }
      await driver.flush();
      await driver.allFinalized(
        transfers.map((t) => t.transactionId),
        finalizeTimeoutMs(phase.n),
      );
      await settle(`${phase.name}: after the phase`);
      const cpuAfter = sampleCpu({ service: service.pid });
      const roundTripsAfter = await sampleRoundTrips(service.port);
      const { latencies, firstPublish, lastFinalized } = driver.timings(transfers.map((t) => t.transactionId));
      const seconds = (lastFinalized - firstPublish) / 1000;
      const sorted = [...latencies].sort((a, b) => a - b);
      const result: Result = {
        scenario: phase.name,
        mode: phase.rate ? `offered ${phase.rate}/s` : 'max',
        transfers: phase.n,
        wallets: w,
        seconds: round(seconds),
        perSecond: round(phase.n / seconds),
        latencyMs: {
          p50: round(percentile(sorted, 50)),
          p95: round(percentile(sorted, 95)),
          p99: round(percentile(sorted, 99)),
          max: round(sorted.at(-1)!),
        },
        peakRssMb: round(service.peakRssMb),
        endRssMb: round(service.rssMb()),
        offeredRate: phase.rate,
        perSecondByTenth: driver.throughputByTenth(transfers.map((t) => t.transactionId)),
        cpuMsPerTransfer: cpuPerTransfer(cpuBefore, cpuAfter, phase.n),
        roundTripsPerTransfer: roundTripsPerTransfer(roundTripsBefore, roundTripsAfter, phase.n),
        correct: await checkCorrectness(db, driver, users, allTransfers, noop),
        storeGrowth: growthPerTransfer(storesBefore, await snapshotStores(db.connection), phase.n),
      };
      results.push(result);
      process.stderr.write(`${table([result])}\n`);
    }
    return results;
  } finally {
    await service.stop();
    await driver.close();
    await db.connection.dropDatabase().catch(() => undefined);
    await db.close();
  }
}
