// `npm run bench`: end-to-end throughput, latency and memory of the wallet service on the local stack,
// against the ceiling of a no-op ledger and the floor of the ledger's own writes. Not a test.
//   npm run bench -- [--scenario default|full|uniform|hot|rate|noop|bare|floor|long|reconcile|statement|live] [--n N] [--w W] [--rate R]
//                    [--hot-n N] [--floor-n N] [--tracing on]
// --tracing on: the service exports its traces to an OTLP endpoint of the bench's own (span-sink.ts),
// so that the run's figures show what tracing costs per transfer.
import { parseArgs } from 'node:util';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Types } from 'mongoose';
import type { LegChange } from '../../src/domain';
import { BusinessRuleError, LedgerInvariantError, Ledger, verifyChain, ENTRIES_ONLY, type LedgerEntryDocument } from '../../src/ledger';
import { createMetrics } from '../../src/metrics';
import { openStores, type Stores } from '../../src/stores';
import { backoffDelayMs, sleep } from '../../src/support/backoff';
import { KeyedMutex } from '../../src/support/keyed-mutex';
import { runBarePhase } from './bare-phase';
import { reconcileScenario } from './reconcile-scenario';
import { growthPerTransfer, snapshotStores } from './store-growth';
import { readSideMain } from './read-side-report';
import { ServiceProcess, type ServiceEnvironment } from './service-process';
import { cpuPerTransfer, sampleCpu } from './cpu';
import { fundedWallets } from './funding';
import { LoadDriver, percentile } from './load';
import { SpanSink } from './span-sink';

const ROOT = path.resolve(__dirname, '../..');
const RABBITMQ_URL = process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const MONGO_BASE = process.env.DATABASE_URL ?? 'mongodb://127.0.0.1:27017/mint_wallet';
const TEMPORAL_ADDRESS = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
const FUNDING = 10_000_000;
/** How long a phase may take to finalize everything before the run is called stuck: 10 tx/s at worst. */
const finalizeTimeoutMs = (n: number) => Math.max(10 * 60_000, n * 100);
/**
 * The full run's hot-wallet and database-floor phases: smaller than the uniform phase, whose size
 * (and the ceiling's, the same) the comparison fixes; a rate settles well within 2,000.
 */
const SECONDARY_PHASE_N = 2_000;
/** Transfers per phase of the default run (its three phases fit in 10 minutes on 2 vCPUs). */
const DEFAULT_RUN_N = 2_000;
/** How long the offered-rate phase offers transfers. */
const OFFERED_RATE_SECONDS = 45;
const runStarted = performance.now();

interface Flags {
  scenario: string;
  n?: number;
  w?: number;
  rate?: number;
  hotN?: number;
  floorN?: number;
  tracing?: boolean;
}

interface Result {
  scenario: string;
  mode: string;
  transfers: number;
  wallets: number;
  seconds: number;
  perSecond: number;
  latencyMs?: { p50: number; p95: number; p99: number; max: number };
  peakRssMb?: number;
  endRssMb?: number;
  correct?: string;
  offeredRate?: number;
  perSecondByTenth?: number[];
  /** CPU-milliseconds per transfer of each process over the phase, from /proc. */
  cpuMsPerTransfer?: Record<string, number>;
  /** What each collection grew by per transfer over the phase (see store-growth.ts). */
  storeGrowth?: Record<string, { documents: number; bytes: number }>;
}

function parseFlags(args: string[]): Flags {
  const { values } = parseArgs({
    args,
    strict: true,
    options: {
      scenario: { type: 'string', default: 'default' },
      n: { type: 'string' },
      w: { type: 'string' },
      rate: { type: 'string' },
      'hot-n': { type: 'string' },
      'floor-n': { type: 'string' },
      tracing: { type: 'string' },
    },
  });
  const count = (name: string, value: string | undefined) => {
    if (value === undefined) return undefined;
    const number = Number(value);
    if (!Number.isSafeInteger(number) || number < 1) throw new Error(`--${name} takes a positive whole number, not ${value}`);
    return number;
  };
  if (values.tracing !== undefined && values.tracing !== 'on' && values.tracing !== 'off') throw new Error('--tracing takes on or off');
  return {
    scenario: values.scenario,
    n: count('n', values.n),
    w: count('w', values.w),
    rate: count('rate', values.rate),
    hotN: count('hot-n', values['hot-n']),
    floorN: count('floor-n', values['floor-n']),
    tracing: values.tracing === 'on',
  };
}

/** A deterministic PRNG, so runs offer the same load. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Transfer {
  transactionId: string;
  fromUserId: string;
  toUserId: string;
  amount: number;
}

function planTransfers(users: string[], count: number, hot: boolean, seed: number): Transfer[] {
  const next = random(seed);
  const pick = () => users[Math.floor(next() * users.length)];
  return Array.from({ length: count }, (_, i) => {
    let fromUserId = pick();
    let toUserId = pick();
    // Hot wallet: every other transfer has users[0] on one side, alternately sending and receiving.
    if (hot && i % 2 === 0) [fromUserId, toUserId] = i % 4 === 0 ? [users[0], toUserId] : [fromUserId, users[0]];
    if (fromUserId === toUserId) toUserId = users[(users.indexOf(fromUserId) + 1) % users.length]!;
    return { transactionId: new Types.ObjectId().toHexString(), fromUserId, toUserId, amount: 1 + Math.floor(next() * 100) };
  });
}

/** Where the service under test runs: its own database and task queue on the stack's servers. */
function serviceEnvironment(database: string): ServiceEnvironment {
  return {
    root: ROOT,
    database,
    databaseUrl: databaseUrl(database),
    rabbitmqUrl: RABBITMQ_URL,
    temporalAddress: TEMPORAL_ADDRESS,
    topUpMaxAmount: FUNDING,
  };
}

function databaseUrl(database: string): string {
  return MONGO_BASE.replace(/\/[^/?]*(\?|$)/, `/${database}$1`);
}

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

interface Phase {
  name: string;
  n: number;
  hot?: boolean;
  rate?: number;
}

/**
 * One service process and one set of funded wallets, then phases of transfers one after another
 * (money stays conserved across them, so each phase is checked on the cumulative state).
 */
async function runSession(
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
      const storesBefore = await snapshotStores(db.connection);
      service.resetPeak();
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
      const cpuAfter = sampleCpu({ service: service.pid });
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

/** The bare-Temporal ceiling: the same Temporal server and worker options, nothing else. */
async function bareSession(n: number): Promise<Result> {
  progress(`bare Temporal (ceiling): ${n} executions of the wallet's shape, started by a client`);
  const bare = await runBarePhase(ROOT, TEMPORAL_ADDRESS, n);
  const result: Result = {
    scenario: 'bare Temporal (ceiling)',
    mode: 'max',
    transfers: n,
    wallets: 0,
    seconds: round(bare.seconds),
    perSecond: round(n / bare.seconds),
    latencyMs: {
      p50: round(percentile(bare.latencies, 50)),
      p95: round(percentile(bare.latencies, 95)),
      p99: round(percentile(bare.latencies, 99)),
      max: round(bare.latencies.at(-1)!),
    },
    peakRssMb: round(bare.peakRssMb),
    perSecondByTenth: byTenth(bare.finishedAt),
    cpuMsPerTransfer: bare.cpuMsPerTransfer,
    correct: 'finished once each (no broker, no database)',
  };
  process.stderr.write(`${table([result])}\n`);
  return result;
}

/** Finishes per second in each tenth of a phase: shows whether its rate has settled. */
function byTenth(sortedTimes: number[]): number[] {
  const tenth = Math.floor(sortedTimes.length / 10);
  if (tenth < 2) return [];
  return Array.from({ length: 10 }, (_, k) => round((tenth - 1) / ((sortedTimes[(k + 1) * tenth - 1] - sortedTimes[k * tenth]) / 1000)));
}

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
async function databaseFloor(n: number, w: number): Promise<Result> {
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

/** Progress on stderr, with the time since the run started. */
function progress(message: string): void {
  process.stderr.write(`[bench +${elapsedSeconds()}s] ${message}\n`);
}

function elapsedSeconds(): number {
  return Math.round((performance.now() - runStarted) / 1000);
}

function ratio(a: number, b: number): number {
  return Math.round((a / b) * 100) / 100;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}

function formatDuration(seconds: number): string {
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

function table(results: Result[]): string {
  const header = '| scenario | mode | transfers | wallets | tx/s | p50 ms | p95 ms | p99 ms | max ms | peak RSS MB | check |';
  const rows = results.map(
    (r) =>
      `| ${r.scenario} | ${r.mode} | ${r.transfers} | ${r.wallets} | ${r.perSecond} | ${r.latencyMs?.p50 ?? ''} | ${r.latencyMs?.p95 ?? ''} | ${r.latencyMs?.p99 ?? ''} | ${r.latencyMs?.max ?? ''} | ${r.peakRssMb ?? ''} | ${r.correct ?? ''} |`,
  );
  return [header, '|---|---|---|---|---|---|---|---|---|---|---|', ...rows].join('\n');
}

/** CPU-ms per transfer by process, one row per phase. */
function cpuTable(results: Result[]): string {
  const measured = results.filter((r) => r.cpuMsPerTransfer);
  const names = [...new Set(measured.flatMap((r) => Object.keys(r.cpuMsPerTransfer!)))];
  const header = `| CPU ms per transfer | ${names.join(' | ')} |`;
  const rows = measured.map((r) => `| ${r.scenario} | ${names.map((name) => r.cpuMsPerTransfer![name] ?? '').join(' | ')} |`);
  return [header, `|---|${names.map(() => '---|').join('')}`, ...rows].join('\n');
}

/** Documents and BSON bytes each collection grew by per transfer, one row per phase. */
function storeTable(results: Result[]): string {
  const measured = results.filter((r) => r.storeGrowth);
  const names = [...new Set(measured.flatMap((r) => Object.keys(r.storeGrowth!)))].sort();
  const header = `| per transfer: documents / bytes | ${names.join(' | ')} |`;
  const cell = (growth: Result['storeGrowth'], name: string) =>
    growth![name] ? `${growth![name].documents} / ${growth![name].bytes}` : '';
  const rows = measured.map((r) => `| ${r.scenario} | ${names.map((name) => cell(r.storeGrowth, name)).join(' | ')} |`);
  return [header, `|---|${names.map(() => '---|').join('')}`, ...rows].join('\n');
}

/** The reconciliation scenario: its own report, not a transfer rate. */
async function reconcileMain(flags: Flags): Promise<void> {
  const result = await reconcileScenario(
    { root: ROOT, rabbitmqUrl: RABBITMQ_URL, temporalAddress: TEMPORAL_ADDRESS, topUpMaxAmount: FUNDING, databaseUrlOf: databaseUrl },
    flags.n ?? 2_000_000,
    flags.w ?? 2_000,
    progress,
  );
  const verdict = (report: { ok: boolean; drift: unknown[]; unbalanced: unknown[]; stalled: unknown[] }) =>
    report.ok
      ? 'ok'
      : `drift in ${report.drift.length} wallet(s), ${report.unbalanced.length} unbalanced, ${report.stalled.length} stalled`;
  const { full, incremental, planted, merchant, rollback } = result;
  const report = [
    `ledger: ${result.entries} entries over ${result.wallets} wallets (one merchant of ~${result.merchantEntries}), written in ${round(result.seedSeconds)} s`,
    '',
    '| pass | entries walked | seconds | entries/s | peak RSS MB | report | as expected |',
    '|---|---|---|---|---|---|---|',
    `| first (full), during ${full.liveTransfers} live transfers | ${full.report.entries} | ${round(full.seconds)} | ${round(full.report.entries / full.seconds)} | ${round(full.peakRssMb)} | ${verdict(full.report)} | ${full.report.ok ? 'yes: no false drift' : 'NO: false drift'} |`,
    `| incremental, after ${incremental.transfers} transfers | ${incremental.report.entries} | ${round(incremental.seconds)} | ${round(incremental.report.entries / incremental.seconds)} | ${round(incremental.peakRssMb)} | ${verdict(incremental.report)} | ${incremental.report.ok ? `yes: seconds per entry ${round(incremental.secondsPerEntryRatio)}x the full pass's` : 'NO'} |`,
    `| incremental, with a drift and a stuck top-up planted | ${planted.report.entries} | ${round(planted.seconds)} | | ${round(planted.peakRssMb)} | ${verdict(planted.report)} | ${planted.driftFound && planted.stuckTopUpFound ? 'yes: both found and named' : 'NO: one was missed'} |`,
    `| ops verify of the wallet with a tampered entry | ${planted.tampered.entries} | ${round(planted.tampered.seconds)} | | | ${planted.tampered.broken.map((b) => b.problem).join('; ')} | ${planted.tampered.named ? 'yes: the entry is named' : 'NO'} |`,
    `| the scheduled workflow over a wallet of ${result.merchantEntries} entries | ${merchant.entries} | ${round(merchant.seconds)} | ${round(merchant.entries / merchant.seconds)} | | ${verdict(merchant.report)} | ${merchant.report.ok ? 'yes' : 'NO'} |`,
    '',
    '| rollback (find the leg by _id, undo it) | ledger entries | p50 ms | p95 ms |',
    '|---|---|---|---|',
    `| small ledger | ${rollback.small.entries} | ${rollback.small.p50} | ${rollback.small.p95} |`,
    `| large ledger | ${rollback.large.entries} | ${rollback.large.p50} | ${rollback.large.p95} |`,
  ].join('\n');
  process.stdout.write(`\n${report}\nwhole run ${formatDuration(elapsedSeconds())}\n`);
  writeResults({ flags, result });
}

function writeResults(content: object): void {
  const dir = path.join(ROOT, 'bench-results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(content, null, 2));
  process.stdout.write(`results written to ${path.relative(ROOT, file)}\n`);
}

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2));
  if (flags.scenario === 'reconcile') return reconcileMain(flags);
  if (flags.scenario === 'statement' || flags.scenario === 'live') {
    return readSideMain(
      flags.scenario,
      flags.n,
      { root: ROOT, rabbitmqUrl: RABBITMQ_URL, temporalAddress: TEMPORAL_ADDRESS, topUpMaxAmount: FUNDING, databaseUrlOf: databaseUrl },
      progress,
      writeResults,
    );
  }
  // The default run's phases are smaller, so that it fits in 10 minutes here; their rates settle well
  // before (the tenths printed show it).
  const n = flags.n ?? (flags.scenario === 'default' ? DEFAULT_RUN_N : 5_000);
  const w = flags.w ?? 1_000;
  const hotN = flags.hotN ?? Math.min(n, SECONDARY_PHASE_N);
  const floorN = flags.floorN ?? Math.min(n, SECONDARY_PHASE_N);
  const halfOfMax = (done: Result[]): Phase => {
    const max = done.find((r) => r.scenario === 'uniform' && r.mode === 'max')?.perSecond ?? 40;
    const rate = flags.rate ?? Math.max(1, Math.round(max / 2));
    return { name: 'uniform', n: Math.min(n, rate * OFFERED_RATE_SECONDS), rate };
  };
  const sessions: Record<string, () => Promise<Result[]>> = {
    // The headline and its ceiling only: everything more does not fit in 10 minutes on 2 vCPUs.
    default: async () => [
      ...(await runSession('wallet', w, false, [{ name: 'uniform', n }])),
      ...(await runSession('noop', w, true, [{ name: 'no-op ledger (ceiling)', n }])),
      await bareSession(n),
    ],
    full: async () => [
      ...(await runSession('wallet', w, false, [{ name: 'uniform', n }, { name: 'hot wallet', n: hotN, hot: true }, halfOfMax])),
      ...(await runSession('noop', w, true, [{ name: 'no-op ledger (ceiling)', n }])),
      await bareSession(n),
      await databaseFloor(floorN, w),
    ],
    uniform: () => runSession('uniform', w, false, [{ name: 'uniform', n }]),
    hot: () => runSession('hot', w, false, [{ name: 'hot wallet', n: flags.hotN ?? n, hot: true }]),
    rate: () => runSession('rate', w, false, [halfOfMax]),
    noop: () => runSession('noop', w, true, [{ name: 'no-op ledger (ceiling)', n }]),
    bare: async () => [await bareSession(n)],
    floor: async () => [await databaseFloor(flags.floorN ?? n, w)],
    long: () =>
      runSession('long', w, false, [
        { name: 'uniform', n: 5_000 },
        { name: 'long run', n: flags.n ?? 50_000 },
      ]),
  };
  const run = sessions[flags.scenario];
  if (!run) throw new Error(`unknown scenario ${flags.scenario}; one of ${Object.keys(sessions).join(', ')}`);
  // The service processes inherit the endpoint; the bare phase's worker never traces.
  const spanSink = flags.tracing ? await SpanSink.start() : undefined;
  if (spanSink) process.env.OTEL_EXPORTER_OTLP_ENDPOINT = spanSink.url;
  const results = await run();
  await spanSink?.stop();
  const byName = (name: string) => results.find((r) => r.scenario === name && r.mode === 'max');
  const ratios = {
    walletToNoop:
      byName('uniform') && byName('no-op ledger (ceiling)')
        ? ratio(byName('uniform')!.perSecond, byName('no-op ledger (ceiling)')!.perSecond)
        : undefined,
    walletToBare:
      byName('uniform') && byName('bare Temporal (ceiling)')
        ? ratio(byName('uniform')!.perSecond, byName('bare Temporal (ceiling)')!.perSecond)
        : undefined,
    noopToBare:
      byName('no-op ledger (ceiling)') && byName('bare Temporal (ceiling)')
        ? ratio(byName('no-op ledger (ceiling)')!.perSecond, byName('bare Temporal (ceiling)')!.perSecond)
        : undefined,
    hotToUniform:
      byName('uniform') && byName('hot wallet') ? ratio(byName('hot wallet')!.perSecond, byName('uniform')!.perSecond) : undefined,
    longToUniformPeakRss:
      byName('uniform') && byName('long run') ? ratio(byName('long run')!.peakRssMb!, byName('uniform')!.peakRssMb!) : undefined,
  };
  const runSeconds = elapsedSeconds();
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
  const report =
    `${table(results)}\n\n${cpuTable(results)}\n\n${storeTable(results)}\n\nwallet/no-op throughput ${ratios.walletToNoop ?? 'n/a'}; wallet/bare ${ratios.walletToBare ?? 'n/a'}; ` +
    `no-op/bare ${ratios.noopToBare ?? 'n/a'}; hot/uniform ${ratios.hotToUniform ?? 'n/a'}` +
    `; long/uniform peak RSS ${ratios.longToUniformPeakRss ?? 'n/a'}\nwhole run ${formatDuration(runSeconds)}; machine: ${machine}\n`;
  const traced = spanSink
    ? `tracing on: ${spanSink.spans} spans received, ${round(
        spanSink.spans /
          Math.max(
            1,
            results.filter((r) => r.scenario !== 'bare Temporal (ceiling)').reduce((sum, r) => sum + r.transfers, 0),
          ),
      )} per transfer\n`
    : '';
  const tenths = results
    .filter((r) => r.perSecondByTenth?.length)
    .map((r) => `${r.scenario}: tx/s by tenth of the phase ${r.perSecondByTenth!.join(', ')}\n`);
  process.stdout.write(`\n${report}${traced}${tenths.join('')}`);
  writeResults({ machine, flags, runSeconds, results, ratios });
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
