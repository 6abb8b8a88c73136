import type { Connection, Model, mongo } from 'mongoose';
import { createCollection } from '../database/connection';
import { ledgerEntryIdOf, voidedLegIdOf, walletIdOf } from './keys';
import { ledgerEntrySchema, REPLACED_INDEXES, type LedgerEntryDocument, type VoidedLegDocument } from './ledger-entry.model';
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
    // An index replaced on the same keys goes first: MongoDB refuses a second index on equal keys.
    const existing = new Set((await this.entryCollection.indexes()).map((index) => index.name));
    for (const name of REPLACED_INDEXES.filter((replaced) => existing.has(replaced))) await this.entryCollection.dropIndex(name);
    await Promise.all([this.wallets.createIndexes(), this.entries.createIndexes()]);
  }

  walletOf(userId: string, projection?: Record<string, 1>): Promise<WalletDocument | null> {
    return this.wallets.findById(walletIdOf(userId), projection).lean<WalletDocument>().exec();
  }

  entryAt(userId: string, version: number): Promise<LedgerEntryDocument | null> {
    return this.entries.findById(ledgerEntryIdOf(userId, version)).lean<LedgerEntryDocument>().exec();
  }

  /** The void of a forward leg, if a Failed decision voided it. */
  voidedLeg(transactionId: string, userId: string, leg: string): Promise<VoidedLegDocument | null> {
    return (this.entryCollection as unknown as mongo.Collection<VoidedLegDocument>).findOne({
      _id: voidedLegIdOf(transactionId, userId, leg),
    });
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
