import mongoose, { type Connection, type mongo } from 'mongoose';
import { walletSchema, type WalletDocument } from './wallet.model';
import { ledgerEntrySchema, type LedgerEntryDocument } from './ledger-entry.model';
import { FinalizationLog } from './finalization-log';
import { TransactionRecords } from './transaction-record';

// Every database operation is bounded: a dead server fails a call within seconds, so the Temporal
// activity that made it is retried with backoff instead of hanging past its own timeout.
const CONNECTION_OPTIONS = {
  serverSelectionTimeoutMS: 3_000,
  connectTimeoutMS: 3_000,
  socketTimeoutMS: 8_000,
  maxPoolSize: 32,
  autoIndex: false,
  autoCreate: false,
  // Fail fast while disconnected instead of queueing operations in memory.
  bufferCommands: false,
} as const;

export interface Database {
  connection: Connection;
  wallets: mongoose.Model<WalletDocument>;
  ledgerEntries: mongoose.Model<LedgerEntryDocument>;
  /** The driver's collection, for the ledger's raw inserts (no mongoose casting on the hot path). */
  ledgerEntryCollection: mongo.Collection<LedgerEntryDocument>;
  finalizations: FinalizationLog;
  transactionRecords: TransactionRecords;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Opens the wallet database and makes sure its indexes exist (the unique ones carry correctness). */
export async function openDatabase(url: string): Promise<Database> {
  const connection = mongoose.createConnection(url, CONNECTION_OPTIONS);
  await connection.asPromise();
  const wallets = connection.model<WalletDocument>('Wallet', walletSchema, 'wallets');
  const ledgerEntries = connection.model<LedgerEntryDocument>('LedgerEntry', ledgerEntrySchema, 'ledger_entries');
  await Promise.all([wallets.createCollection().catch(ignoreExists), ledgerEntries.createCollection().catch(ignoreExists)]);
  const transactionRecords = new TransactionRecords(connection);
  await transactionRecords.ensureCollections();
  await Promise.all([wallets.createIndexes(), ledgerEntries.createIndexes()]);
  return {
    connection,
    wallets,
    ledgerEntries,
    ledgerEntryCollection: ledgerEntries.collection as unknown as mongo.Collection<LedgerEntryDocument>,
    finalizations: new FinalizationLog(connection),
    transactionRecords,
    async ping() {
      const db = connection.db;
      if (!db) throw new Error('database connection is not open');
      await db.admin().ping({ timeoutMS: 2_000 });
    },
    async close() {
      await connection.close();
    },
  };
}

function ignoreExists(error: unknown): void {
  if ((error as { codeName?: string }).codeName !== 'NamespaceExists') throw error;
}

const UNAVAILABLE_ERRORS = new Set([
  'MongoServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoTopologyClosedError',
  'MongoNotConnectedError',
  'MongoOperationTimeoutError',
  'MongoPoolClearedError',
]);

/** True for failures that mean "the database cannot be reached now", not "this operation is wrong". */
export function isDatabaseUnavailable(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return typeof name === 'string' && UNAVAILABLE_ERRORS.has(name);
}
