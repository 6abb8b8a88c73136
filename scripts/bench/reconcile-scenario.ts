// `npm run bench -- --scenario reconcile`: the reconciliation as the ledger grows. A ledger of
// 2,000,000 entries (--n) written by the ledger's own arithmetic (hashes and leg locations included,
// not through Temporal), one of its wallets a merchant with 15% of them (300,000):
// - the first, full pass (time, peak RSS of its process) while transfers stream through the service,
//   which must report no drift that is not there;
// - an incremental pass after 10,000 more transfers, whose time per entry is compared with the full one's;
// - a planted drift, a planted stuck top-up (its execution terminated and deleted) and a planted
//   tampered entry, each found and named;
// - the merchant's wallet alone through the scheduled workflow (its activity's one-minute heartbeat);
// - a rollback's ledger step (finding the leg by _id, undoing it) on ledgers of 10,000 and 2,000,000 entries.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { Types } from 'mongoose';
import type { LegChange, ReconciliationReport } from '../../src/domain';
import { SEARCH_ATTRIBUTES, transactionWorkflowId } from '../../workflows/wallet-transaction/definitions';
import { walletIdOf, Ledger } from '../../src/ledger';
import { createMetrics } from '../../src/metrics';
import { verifyLedger, type LedgerVerification } from '../../src/ops/verify';
import { openStores, type Stores } from '../../src/stores';
import { LedgerSeeder } from './ledger-seeder';
import { LoadDriver, percentile } from './load';
import { ServiceProcess, type ScenarioEnvironment, type ServiceEnvironment } from './service-process';

const FUNDING = 1_000_000_000;
/** Transfers written after the first pass, for the incremental one. */
const LATER_TRANSFERS = 10_000;
/** The merchant's share of the ledger's entries: 300,000 of the 2,000,000 the scenario writes by default. */
const MERCHANT_SHARE = 0.15;
/** Transfers streamed through the service per second while the full pass runs. */
const LIVE_RATE = 5;
const ROLLBACK_SAMPLES = 200;

export interface ReconcileScenarioResult {
  entries: number;
  merchantEntries: number;
  wallets: number;
  seedSeconds: number;
  full: PassResult & { liveTransfers: number };
  incremental: PassResult & { transfers: number; secondsPerEntryRatio: number };
  planted: PassResult & {
    driftFound: boolean;
    stuckTopUpFound: boolean;
    tampered: LedgerVerification & { seconds: number; named: boolean };
  };
  merchant: { entries: number; seconds: number; report: ReconciliationReport };
  rollback: { small: LatencyMs; large: LatencyMs };
}

interface PassResult {
  seconds: number;
  peakRssMb: number;
  report: ReconciliationReport;
}

type LatencyMs = { entries: number; p50: number; p95: number };

export async function reconcileScenario(
  environment: ScenarioEnvironment,
  entries: number,
  wallets: number,
  progress: (message: string) => void,
): Promise<ReconcileScenarioResult> {
  const temporalConnection = await Connection.connect({ address: environment.temporalAddress });
  const temporal = new Client({ connection: temporalConnection });
  const merchantEntries = Math.floor(entries * MERCHANT_SHARE);
  const big = await benchDatabase(environment, 'reconcile');
  try {
    progress(`reconcile: writing ${entries} ledger entries over ${wallets} wallets (one with ${merchantEntries})`);
    const seeding = performance.now();
    const users = await seedLedger(big.stores, entries, wallets, merchantEntries);
    const seedSeconds = (performance.now() - seeding) / 1000;

    progress('reconcile: the first (full) pass while transfers stream through the service');
    const service = await ServiceProcess.start(big.environment, false);
    const driver = await LoadDriver.connect(environment.rabbitmqUrl);
    let full: ReconcileScenarioResult['full'];
    let stuckTopUp: string;
    try {
      stuckTopUp = await plantStuckTopUp(big.stores, driver, temporal, users[1]);
      const live = streamTransfers(driver, users.slice(2));
      const pass = await reconcileInProcess(environment.root, big.environment.databaseUrl, '--full');
      const liveIds = await live.stop();
      await driver.allFinalized(liveIds, 10 * 60_000);
      full = { ...pass, liveTransfers: liveIds.length };
    } finally {
      await service.stop();
      await driver.close();
    }

    progress(`reconcile: ${LATER_TRANSFERS} more transfers, then an incremental pass`);
    const ledger = new Ledger(big.stores.ledger, createMetrics(), 0);
    await transferThroughModules(big.stores, ledger, users.slice(2), LATER_TRANSFERS);
    const incrementalPass = await reconcileInProcess(environment.root, big.environment.databaseUrl);
    const incremental = {
      ...incrementalPass,
      transfers: LATER_TRANSFERS,
      secondsPerEntryRatio:
        incrementalPass.seconds / Math.max(1, incrementalPass.report.entries) / (full.seconds / Math.max(1, full.report.entries)),
    };

    progress('reconcile: a planted drift, the stuck top-up and a tampered entry');
    const drifted = users[2];
    await transferThroughModules(big.stores, ledger, [drifted, users[3]], 1);
    await big.stores.ledger.wallets.updateOne({ _id: walletIdOf(drifted) }, { $inc: { balance: 1 } }).exec();
    await big.stores.connection
      .collection('transaction_records')
      .updateOne({ _id: stuckTopUp as never }, { $set: { openedAt: new Date(Date.now() - 2 * 3_600_000) } });
    const tamperedUser = users[4];
    const tamperedVersion = await tamperAnEntry(big.stores, tamperedUser);
    const plantedPass = await reconcileInProcess(environment.root, big.environment.databaseUrl);
    const verifying = performance.now();
    const verification = await verifyLedger(big.stores.ledger, { userId: tamperedUser });
    const planted = {
      ...plantedPass,
      driftFound: plantedPass.report.drift.some((wallet) => wallet.userId === drifted),
      stuckTopUpFound: plantedPass.report.stalled.some((t) => t.transactionId === stuckTopUp && t.type === 'TopUp'),
      tampered: {
        ...verification,
        seconds: (performance.now() - verifying) / 1000,
        named: verification.broken.some((broken) => broken.userId === tamperedUser && broken.version === tamperedVersion),
      },
    };

    progress('reconcile: rollback on the large ledger');
    const large = await rollbackLatency(ledger, users.slice(2), full.report.entries);

    progress(`reconcile: a wallet of ${merchantEntries} entries through the scheduled workflow`);
    const merchant = await merchantThroughWorkflow(environment, temporal, merchantEntries);

    progress('reconcile: rollback on a ledger of 10,000 entries');
    const small = await benchDatabase(environment, 'reconcile_small');
    let smallLatency: LatencyMs;
    try {
      const smallUsers = await seedLedger(small.stores, 10_000, 100, 0);
      smallLatency = await rollbackLatency(new Ledger(small.stores.ledger, createMetrics(), 0), smallUsers, 10_000);
    } finally {
      await small.drop();
    }
    return {
      entries: full.report.entries,
      merchantEntries,
      wallets,
      seedSeconds,
      full,
      incremental,
      planted,
      merchant,
      rollback: { small: smallLatency, large },
    };
  } finally {
    await big.drop();
    await temporalConnection.close();
  }
}

async function benchDatabase(environment: ScenarioEnvironment, name: string) {
  const database = `mint_wallet_bench_${name}_${Date.now()}`;
  const serviceEnvironment: ServiceEnvironment = { ...environment, database, databaseUrl: environment.databaseUrlOf(database) };
  const stores = await openStores(serviceEnvironment.databaseUrl);
  return {
    stores,
    environment: serviceEnvironment,
    drop: async () => {
      await stores.connection.dropDatabase().catch(() => undefined);
      await stores.close();
    },
  };
}

/**
 * A funding top-up per wallet, then transfers between random wallets, `merchantEntries` of them
 * paying the first wallet (the merchant): `entries` entries in all.
 */
async function seedLedger(stores: Stores, entries: number, wallets: number, merchantEntries: number): Promise<string[]> {
  const users = Array.from({ length: wallets }, () => new Types.ObjectId().toHexString());
  const seeder = new LedgerSeeder(stores);
  const write = (userId: string, leg: 'credit' | 'debit', amount: number, transactionId: Types.ObjectId, type: 'TopUp' | 'Transfer') =>
    seeder.write(userId, { amount, leg, transactionId, transactionType: type, counterpartyUserId: null, createdAt: new Date() });
  for (const userId of users) await write(userId, 'credit', FUNDING, new Types.ObjectId(), 'TopUp');
  const transfers = Math.floor((entries - wallets) / 2);
  const toMerchant = merchantEntries / Math.max(1, transfers);
  for (let i = 0; i < transfers; i++) {
    const fromIndex = 1 + Math.floor(Math.random() * (wallets - 1));
    const toIndex = Math.random() < toMerchant ? 0 : 1 + ((fromIndex + Math.floor(Math.random() * (wallets - 2))) % (wallets - 1));
    const [from, to] = [users[fromIndex], users[toIndex]];
    if (to === from) continue;
    const transactionId = new Types.ObjectId();
    const amount = 1 + Math.floor(Math.random() * 100);
    await write(from, 'debit', -amount, transactionId, 'Transfer');
    await write(to, 'credit', amount, transactionId, 'Transfer');
  }
  await seeder.finish();
  return users;
}

/** Publishes transfers at LIVE_RATE until stopped; returns their ids. */
function streamTransfers(driver: LoadDriver, users: string[]): { stop: () => Promise<string[]> } {
  const ids: string[] = [];
  let running = true;
  const streaming = (async () => {
    for (let i = 0; running; i++) {
      const transactionId = new Types.ObjectId().toHexString();
      ids.push(transactionId);
      await driver.completed(transactionId, {
        type: 'Transfer',
        fromUserId: users[i % users.length],
        toUserId: users[(i + 7) % users.length],
        amount: 1,
      });
      await new Promise((resolve) => setTimeout(resolve, 1000 / LIVE_RATE));
    }
    await driver.flush();
  })();
  return {
    stop: async () => {
      running = false;
      await streaming;
      return ids;
    },
  };
}

/**
 * A top-up whose credit waits for an operator (its wallet document made to disagree with its ledger),
 * whose execution an operator then terminated and deleted: its record stays Pending, nothing credited.
 */
async function plantStuckTopUp(stores: Stores, driver: LoadDriver, temporal: Client, userId: string): Promise<string> {
  const wallet = (await stores.ledger.walletOf(userId))!;
  await stores.ledger.wallets.updateOne({ _id: walletIdOf(userId) }, { $set: { balance: wallet.balance + 1 } }).exec();
  const transactionId = new Types.ObjectId().toHexString();
  await driver.completed(transactionId, { type: 'TopUp', userId, amount: 10 });
  await driver.flush();
  const handle = temporal.workflow.getHandle(transactionWorkflowId(transactionId));
  for (let waited = 0; ; waited += 500) {
    const status = await handle
      .describe()
      .then((d) => d.typedSearchAttributes.get(SEARCH_ATTRIBUTES.status))
      .catch(() => undefined);
    if (status === 'NeedsOperator') break;
    if (waited > 120_000) throw new Error('the planted top-up never waited for an operator');
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  await handle.terminate('bench: an operator gave up on it');
  const { runId } = await handle.describe();
  await temporal.workflowService.deleteWorkflowExecution({
    namespace: 'default',
    workflowExecution: { workflowId: handle.workflowId, runId },
  });
  await stores.ledger.wallets.updateOne({ _id: walletIdOf(userId) }, { $set: { balance: wallet.balance } }).exec();
  return transactionId;
}

/** Transfers as the workflow's activities make them: the record opened, both legs, the decision. */
async function transferThroughModules(stores: Stores, ledger: Ledger, users: string[], count: number): Promise<void> {
  const one = async (i: number) => {
    const transactionId = new Types.ObjectId().toHexString();
    const [fromUserId, toUserId] = [users[i % users.length], users[(i + 1) % users.length]];
    const terms = { transactionId, type: 'Transfer', fromUserId, toUserId, amount: 1 } as const;
    await stores.records.open({ transactionId, type: 'Transfer', terms, reason: null });
    await ledger.applyLeg({
      transactionId,
      transactionType: 'Transfer',
      leg: 'debit',
      userId: fromUserId,
      amount: -1,
      counterpartyUserId: toUserId,
    });
    await ledger.applyLeg({
      transactionId,
      transactionType: 'Transfer',
      leg: 'credit',
      userId: toUserId,
      amount: 1,
      counterpartyUserId: fromUserId,
    });
    await stores.records.decideCompleted(transactionId);
  };
  const concurrency = Math.min(8, count);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) await one(next++);
    }),
  );
}

/** Changes the amount of an entry in the middle of a wallet's ledger, as a bad manual edit would; returns its version. */
async function tamperAnEntry(stores: Stores, userId: string): Promise<number> {
  const wallet = (await stores.ledger.walletOf(userId))!;
  const version = Math.max(1, Math.floor(wallet.version / 2));
  const entry = (await stores.ledger.entryAt(userId, version))!;
  await stores.ledger.entryCollection.updateOne(
    { _id: entry._id },
    { $set: { amount: entry.amount + 1, balanceAfter: entry.balanceAfter + 1 } },
  );
  return version;
}

/** A rollback's ledger step: a debit applied, then found by its location and undone; the undo timed. */
async function rollbackLatency(ledger: Ledger, users: string[], entries: number): Promise<LatencyMs> {
  const timings: number[] = [];
  for (let i = 0; i < ROLLBACK_SAMPLES; i++) {
    const userId = users[i % users.length];
    const debit: LegChange = {
      transactionId: new Types.ObjectId().toHexString(),
      transactionType: 'Transfer',
      leg: 'debit',
      userId,
      amount: -1,
      counterpartyUserId: users[(i + 1) % users.length],
    };
    await ledger.applyLeg(debit);
    const started = performance.now();
    await ledger.undoLeg(debit, 'reversal');
    timings.push(performance.now() - started);
  }
  timings.sort((a, b) => a - b);
  const round = (ms: number) => Math.round(ms * 100) / 100;
  return { entries, p50: round(percentile(timings, 50)), p95: round(percentile(timings, 95)) };
}

/** The merchant's long wallet alone, reconciled by the service's own workflow: its first pass is full. */
async function merchantThroughWorkflow(
  environment: ScenarioEnvironment,
  temporal: Client,
  merchantEntries: number,
): Promise<ReconcileScenarioResult['merchant']> {
  const merchantDb = await benchDatabase(environment, 'reconcile_merchant');
  try {
    // Every transfer pays the merchant: it and its one payer each hold merchantEntries + 1 entries.
    await seedLedger(merchantDb.stores, 2 * merchantEntries + 2, 2, merchantEntries);
    const service = await ServiceProcess.start(merchantDb.environment, false);
    try {
      const started = performance.now();
      const report = (await temporal.workflow.execute('ledgerReconciliation', {
        taskQueue: `wallet-bench-${merchantDb.environment.database}`,
        workflowId: `bench-merchant-reconciliation-${Date.now()}`,
        workflowExecutionTimeout: '30 minutes',
      })) as ReconciliationReport;
      return { entries: report.entries, seconds: (performance.now() - started) / 1000, report };
    } finally {
      await service.stop();
    }
  } finally {
    await merchantDb.drop();
  }
}

/** One reconciliation pass in a process of its own; its duration and peak RSS, read from /proc. */
async function reconcileInProcess(root: string, databaseUrl: string, ...args: string[]): Promise<PassResult> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--max-old-space-size=384', path.join(root, 'dist/scripts/bench/reconcile-process.js'), ...args], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: databaseUrl },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let peakRssMb = 0;
  const sampler = setInterval(() => (peakRssMb = Math.max(peakRssMb, rssMbOf(child.pid))), 100);
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  clearInterval(sampler);
  if (code !== 0) throw new Error(`the reconciliation process exited with ${code}`);
  return { seconds: (performance.now() - started) / 1000, peakRssMb, report: JSON.parse(output) as ReconciliationReport };
}

function rssMbOf(pid: number | undefined): number {
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
  } catch {
    return 0;
  }
}
