// `npm run bench -- --scenario statement`: a wallet of 100,000 entries, written with the ledger's own
// arithmetic and store (not through Temporal), then its CSV statement streamed through the HTTP
// endpoint of a service process: time to first byte, total time, rows, and the service's peak RSS.
import { Types } from 'mongoose';
import { openStores, type Stores } from '../../src/stores';
import { BenchTokens } from './api-client';
import { LedgerSeeder } from './ledger-seeder';
import { ServiceProcess, type ScenarioEnvironment } from './service-process';

/** One entry a minute: 100,000 entries span 70 days, within a statement's 366. */
const ENTRY_SPACING_MS = 60_000;
const SERVICE_PORT = 4099;

export interface StatementScenarioResult {
  entries: number;
  rows: number;
  bytes: number;
  seedSeconds: number;
  firstByteMs: number;
  totalSeconds: number;
  peakRssMb: number;
  rssBeforeMb: number;
}

export async function statementScenario(
  environment: ScenarioEnvironment,
  entries: number,
  progress: (message: string) => void,
): Promise<StatementScenarioResult> {
  const database = `mint_wallet_bench_statement_${Date.now()}`;
  const databaseUrl = environment.databaseUrlOf(database);
  const stores = await openStores(databaseUrl);
  const tokens = await BenchTokens.create();
  try {
    progress(`statement: writing ${entries} ledger entries of one wallet`);
    const seeding = performance.now();
    const { userId, first, last } = await seedWallet(stores, entries);
    const seedSeconds = (performance.now() - seeding) / 1000;
    const service = await ServiceProcess.start(
      { ...environment, database, databaseUrl, env: { JWT_PUBLIC_KEY: tokens.publicKeyPem, JWKS_ENDPOINT: '' } },
      false,
    );
    try {
      const rssBeforeMb = service.rssMb();
      service.resetPeak();
      progress('statement: streaming the CSV statement of the whole range');
      const query = `from=${first.toISOString()}&to=${new Date(last.getTime() + 1).toISOString()}&format=csv`;
      const streamed = await download(`http://127.0.0.1:${SERVICE_PORT}/api/v1/wallet/user/statement?${query}`, await tokens.token(userId));
      return { entries, seedSeconds, ...streamed, peakRssMb: service.peakRssMb, rssBeforeMb };
    } finally {
      await service.stop();
    }
  } finally {
    await stores.connection.dropDatabase().catch(() => undefined);
    await stores.close();
  }
}

/** Reads the response as it comes, keeping only counts: the client must not be the one holding it whole. */
async function download(url: string, token: string): Promise<{ firstByteMs: number; totalSeconds: number; rows: number; bytes: number }> {
  const started = performance.now();
  const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` } });
  if (response.status !== 200) throw new Error(`statement answered ${response.status}: ${await response.text()}`);
  let firstByteMs = 0;
  let rows = 0;
  let bytes = 0;
  for await (const chunk of response.body!) {
    const data = chunk as Uint8Array;
    if (bytes === 0) firstByteMs = performance.now() - started;
    bytes += data.length;
    for (const byte of data) if (byte === 0x0a) rows++;
  }
  return { firstByteMs, totalSeconds: (performance.now() - started) / 1000, rows: rows - 1, bytes };
}

/** One wallet funded once, then alternating debits and credits, one entry a minute up to now. */
async function seedWallet(stores: Stores, entries: number): Promise<{ userId: string; first: Date; last: Date }> {
  const userId = new Types.ObjectId().toHexString();
  const counterparty = new Types.ObjectId();
  const first = new Date(Date.now() - entries * ENTRY_SPACING_MS);
  const seeder = new LedgerSeeder(stores);
  for (let i = 0; i < entries; i++) {
    const amount = i === 0 ? 10_000_000 : i % 2 === 1 ? -(1 + (i % 97)) : 1 + (i % 89);
    await seeder.write(userId, {
      amount,
      leg: amount > 0 ? 'credit' : 'debit',
      transactionId: new Types.ObjectId(),
      transactionType: i === 0 ? 'TopUp' : 'Transfer',
      counterpartyUserId: i === 0 ? null : counterparty,
      createdAt: new Date(first.getTime() + i * ENTRY_SPACING_MS),
    });
  }
  const [head] = await seeder.finish();
  return { userId, first, last: head.latestEntryAt! };
}
