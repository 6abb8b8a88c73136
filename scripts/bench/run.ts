// What every bench scenario shares: where the stack is, the funding, the result row, progress lines.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Types } from 'mongoose';
import { untilStackQuiet } from './cpu';
import type { ScenarioEnvironment, ServiceEnvironment } from './service-process';

export const ROOT = path.resolve(__dirname, '../..');
export const RABBITMQ_URL = process.env.RABBITMQ_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const MONGO_BASE = process.env.DATABASE_URL ?? 'mongodb://127.0.0.1:27017/mint_wallet';
export const TEMPORAL_ADDRESS = process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233';
/** What each wallet is topped up with before a phase. */
export const FUNDING = 10_000_000;
/** How long a phase may take to finalize everything before the run is called stuck: 10 tx/s at worst. */
export const finalizeTimeoutMs = (n: number) => Math.max(10 * 60_000, n * 100);
const runStarted = performance.now();

export interface Result {
  scenario: string;
  /** The round of the default run (--rounds) the phase belongs to. */
  round?: number;
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
  /** The service's database commands (by operation and collection) and broker messages per transfer (round-trips.ts). */
  roundTripsPerTransfer?: Record<string, number>;
  /** What each collection grew by per transfer over the phase (see store-growth.ts). */
  storeGrowth?: Record<string, { documents: number; bytes: number }>;
}

/** The stack's servers, for scenarios that start services of their own. */
export const SCENARIO_ENVIRONMENT: ScenarioEnvironment = {
  root: ROOT,
  rabbitmqUrl: RABBITMQ_URL,
  temporalAddress: TEMPORAL_ADDRESS,
  topUpMaxAmount: FUNDING,
  databaseUrlOf: databaseUrl,
};

/** Where the service under test runs: its own database and task queue on the stack's servers. */
export function serviceEnvironment(database: string): ServiceEnvironment {
  const { databaseUrlOf, ...servers } = SCENARIO_ENVIRONMENT;
  return { ...servers, database, databaseUrl: databaseUrlOf(database) };
}

export function databaseUrl(database: string): string {
  return MONGO_BASE.replace(/\/[^/?]*(\?|$)/, `/${database}$1`);
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

export interface Transfer {
  transactionId: string;
  fromUserId: string;
  toUserId: string;
  amount: number;
}

export function planTransfers(users: string[], count: number, hot: boolean, seed: number): Transfer[] {
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

/** Progress on stderr, with the time since the run started. */
export function progress(message: string): void {
  process.stderr.write(`[bench +${elapsedSeconds()}s] ${message}\n`);
}

/** Waits for the stack to go quiet (see untilStackQuiet), and says in the progress log how long that took. */
export async function settle(when: string): Promise<void> {
  const { waitedMs, quiet } = await untilStackQuiet();
  progress(`${when}: the stack ${quiet ? 'went quiet' : 'was still busy'} after ${Math.round(waitedMs / 1000)} s`);
}

export function elapsedSeconds(): number {
  return Math.round((performance.now() - runStarted) / 1000);
}

export function ratio(a: number, b: number): number {
  return Math.round((a / b) * 100) / 100;
}

export function round(value: number): number {
  return Math.round(value * 10) / 10;
}

export function formatDuration(seconds: number): string {
  return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

export function writeResults(content: object): void {
  const dir = path.join(ROOT, 'bench-results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify(content, null, 2));
  process.stdout.write(`results written to ${path.relative(ROOT, file)}\n`);
}
