// `npm run bench -- --scenario reconcile`: the reconciliation over a ledger of 200,000 entries,
// written by the ledger's own arithmetic and store (not through Temporal): its time and the peak
// RSS of the process running it, that it finds a drift planted in it, and that a pass run while
// transfers stream through the service reports no drift that is not there.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Types } from 'mongoose';
import type { ReconciliationReport } from '../../workflows/contract';
import { ledgerEntryIdOf } from '../../src/ledger/keys';
import type { LedgerEntryDocument } from '../../src/ledger/ledger-entry.model';
import { openStores, type Stores } from '../../src/stores';
import { LedgerSeeder } from './ledger-seeder';
import { LoadDriver } from './load';
import { ServiceProcess, type ScenarioEnvironment, type ServiceEnvironment } from './service-process';

const FUNDING = 1_000_000;

export interface ReconcileScenarioResult {
  entries: number;
  wallets: number;
  seedSeconds: number;
  clean: PassResult;
  planted: PassResult & { found: boolean };
  live: PassResult & { transfers: number };
}

interface PassResult {
  seconds: number;
  peakRssMb: number;
  report: ReconciliationReport;
}

export async function reconcileScenario(
  environment: ScenarioEnvironment,
  entries: number,
  wallets: number,
  progress: (message: string) => void,
): Promise<ReconcileScenarioResult> {
  const database = `mint_wallet_bench_reconcile_${Date.now()}`;
  const databaseUrl = environment.databaseUrlOf(database);
  const stores = await openStores(databaseUrl);
  try {
    progress(`reconcile: writing ${entries} ledger entries over ${wallets} wallets`);
    const seeding = performance.now();
    const users = await seedLedger(stores, entries, wallets);
    const seedSeconds = (performance.now() - seeding) / 1000;
    progress('reconcile: a pass over the sound ledger');
    const clean = await reconcileInProcess(environment.root, databaseUrl);
    progress('reconcile: a pass over the ledger with one entry corrupted');
    const victim = await plantDrift(stores, users[Math.floor(users.length / 2)]);
    const planted = await reconcileInProcess(environment.root, databaseUrl);
    await repair(stores, victim);
    progress('reconcile: a pass while transfers stream through the service');
    const live = await reconcileUnderLoad({ ...environment, database, databaseUrl }, users, clean.report.entries);
    return {
      entries: clean.report.entries,
      wallets,
      seedSeconds,
      clean,
      planted: { ...planted, found: planted.report.drift.some((d) => d.userId === victim.userId) },
      live,
    };
  } finally {
    await stores.connection.dropDatabase().catch(() => undefined);
    await stores.close();
  }
}

/** A funding top-up per wallet, then transfers between random wallets: `entries` entries in all. */
async function seedLedger(stores: Stores, entries: number, wallets: number): Promise<string[]> {
  const users = Array.from({ length: wallets }, () => new Types.ObjectId().toHexString());
  const seeder = new LedgerSeeder(stores);
  const write = (
    userId: string,
    leg: 'credit' | 'debit',
    amount: number,
    transactionId: Types.ObjectId,
    transactionType: 'TopUp' | 'Transfer',
  ) => seeder.write(userId, { amount, leg, transactionId, transactionType, counterpartyUserId: null, createdAt: new Date() });
  for (const userId of users) await write(userId, 'credit', FUNDING, new Types.ObjectId(), 'TopUp');
  for (let written = wallets; written + 2 <= entries; written += 2) {
    const from = users[Math.floor(Math.random() * wallets)];
    const to = users[(users.indexOf(from) + 1 + Math.floor(Math.random() * (wallets - 1))) % wallets];
    const transactionId = new Types.ObjectId();
    const amount = 1 + Math.floor(Math.random() * 100);
    await write(from, 'debit', -amount, transactionId, 'Transfer');
    await write(to, 'credit', amount, transactionId, 'Transfer');
  }
  await seeder.finish();
  return users;
}

/** Changes one entry in the middle of a wallet's ledger, as a bad manual edit would. */
async function plantDrift(stores: Stores, userId: string): Promise<{ userId: string; id: string; balanceAfter: number }> {
  const wallet = (await stores.ledger.walletOf(userId))!;
  const id = ledgerEntryIdOf(userId, Math.max(1, Math.floor(wallet.version / 2)));
  const entry = (await stores.ledger.entries.findById(id).lean<LedgerEntryDocument>().exec())!;
  await stores.ledger.entryCollection.updateOne({ _id: id }, { $set: { balanceAfter: entry.balanceAfter + 1 } });
  return { userId, id, balanceAfter: entry.balanceAfter };
}

async function repair(stores: Stores, planted: { id: string; balanceAfter: number }): Promise<void> {
  await stores.ledger.entryCollection.updateOne({ _id: planted.id }, { $set: { balanceAfter: planted.balanceAfter } });
}

/** Runs the service, streams transfers between the seeded wallets, and reconciles meanwhile. */
async function reconcileUnderLoad(
  environment: ServiceEnvironment,
  users: string[],
  entries: number,
): Promise<PassResult & { transfers: number }> {
  const transfers = Math.max(200, Math.round(entries / 200));
  const driver = await LoadDriver.connect(environment.rabbitmqUrl);
  const service = await ServiceProcess.start(environment, false);
  try {
    const ids = Array.from({ length: transfers }, () => new Types.ObjectId().toHexString());
    for (const [i, transactionId] of ids.entries()) {
      const fromUserId = users[i % users.length];
      const toUserId = users[(i + 1) % users.length];
      await driver.completed(transactionId, { type: 'Transfer', fromUserId, toUserId, amount: 1 + (i % 50) });
    }
    await driver.flush();
    const pass = await reconcileInProcess(environment.root, environment.databaseUrl);
    await driver.allFinalized(ids, 10 * 60_000);
    return { ...pass, transfers };
  } finally {
    await service.stop();
    await driver.close();
  }
}

/** One reconciliation pass in a process of its own; its duration and peak RSS, read from /proc. */
async function reconcileInProcess(root: string, databaseUrl: string): Promise<PassResult> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--max-old-space-size=384', path.join(root, 'dist/scripts/bench/reconcile-process.js')], {
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
