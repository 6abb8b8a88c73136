import type { Connection, Model, mongo } from 'mongoose';
import { createCollection } from '../database/connection';
import { ledgerEntryIdOf, walletIdOf } from './keys';
import { ledgerEntrySchema, type LedgerEntryDocument } from './ledger-entry.model';
import { walletSchema, type WalletDocument } from './wallet.model';

/** Entries read ahead of a wallet document that lags its ledger (each one read by _id), at most. */
export const MAX_LOOK_AHEAD = 10_000;

/**
 * The ledger's collections and the reads every part of it shares. Each read is by _id (see keys.ts),
 * so it costs the same however long the ledger grows, on FerretDB as on MongoDB.
 */
export class LedgerStore {
  readonly wallets: Model<WalletDocument>;
  readonly entries: Model<LedgerEntryDocument>;
  /** The driver's collection, for the ledger's raw inserts (no mongoose casting on the hot path). */
  readonly entryCollection: mongo.Collection<LedgerEntryDocument>;

  constructor(private readonly connection: Connection) {
    this.wallets = connection.model<WalletDocument>('Wallet', walletSchema, 'wallets');
    this.entries = connection.model<LedgerEntryDocument>('LedgerEntry', ledgerEntrySchema, 'ledger_entries');
    this.entryCollection = this.entries.collection as unknown as mongo.Collection<LedgerEntryDocument>;
  }

  /** Creates the collections and their indexes; the unique ones carry the ledger's correctness. */
  async ensureCollections(): Promise<void> {
    await Promise.all([createCollection(this.connection, 'wallets'), createCollection(this.connection, 'ledger_entries')]);
    await Promise.all([this.wallets.createIndexes(), this.entries.createIndexes()]);
  }

  walletOf(userId: string, projection?: Record<string, 1>): Promise<WalletDocument | null> {
    return this.wallets.findById(walletIdOf(userId), projection).lean<WalletDocument>().exec();
  }

  entryAt(userId: string, version: number): Promise<LedgerEntryDocument | null> {
    return this.entries.findById(ledgerEntryIdOf(userId, version)).lean<LedgerEntryDocument>().exec();
  }

  /** The newest entry after `version`, reading ahead one version at a time; null when there is none. */
  async newestAfter(userId: string, version: number, maxAhead = MAX_LOOK_AHEAD): Promise<LedgerEntryDocument | null> {
    let newest: LedgerEntryDocument | null = null;
    for (let ahead = 1; ahead <= maxAhead; ahead++) {
      const next = await this.entryAt(userId, version + ahead);
      if (!next) break;
      newest = next;
    }
    return newest;
  }
}
