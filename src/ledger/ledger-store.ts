import type { Connection, Model, mongo } from 'mongoose';
import { createCollection } from '../database/connection';
import { onlyDuplicateKeys } from '../database/duplicate-key';
import { MarkSet } from '../database/mark-set';
import { ledgerEntryIdOf, legIdOf, legIdsOfTransaction, voidedLegIdOf, walletIdOf } from './keys';
import { ledgerEntrySchema, REPLACED_INDEXES, type LedgerEntryDocument, type VoidedLegDocument } from './ledger-entry.model';
import { walletSchema, type WalletDocument } from './wallet.model';

/** Entries read ahead of a wallet document that lags its ledger (each one read by _id), at most. */
export const MAX_LOOK_AHEAD = 10_000;

/** The marker, among the locations, that every entry written before it has its location. */
const LOCATIONS_COMPLETE = 'locations-complete';

/** Where a leg landed: its wallet and version (see legIdOf). Written just after the leg's entry. */
export interface LegLocationDocument {
  _id: string;
  userId: string;
  version: number;
}

/**
 * The ledger's collections and the reads every part of it shares. Each read is by _id (see keys.ts),
 * so it costs the same however long the ledger grows, on FerretDB as on MongoDB.
 */
export class LedgerStore {
  readonly wallets: Model<WalletDocument>;
  readonly entries: Model<LedgerEntryDocument>;
  /** The driver's collection, for the ledger's raw inserts (no mongoose casting on the hot path). */
  readonly entryCollection: mongo.Collection<LedgerEntryDocument>;
  /** Where each leg of each transaction landed, so that finding a leg is a read by _id. */
  readonly legLocations: mongo.Collection<LegLocationDocument>;
  private allLocated = false;
  /** Wallets the reconciliation has to look at though no marked transaction touches them: new ones, and ones it found in doubt. */
  readonly walletsToReconcile: MarkSet;

  constructor(private readonly connection: Connection) {
    this.wallets = connection.model<WalletDocument>('Wallet', walletSchema, 'wallets');
    this.entries = connection.model<LedgerEntryDocument>('LedgerEntry', ledgerEntrySchema, 'ledger_entries');
    this.entryCollection = this.entries.collection as unknown as mongo.Collection<LedgerEntryDocument>;
    this.legLocations = connection.collection<LegLocationDocument>('ledger_legs');
    this.walletsToReconcile = new MarkSet(connection, 'wallets_to_reconcile');
  }

  /** Creates the collections and their indexes; the unique ones carry the ledger's correctness. */
  async ensureCollections(): Promise<void> {
    await Promise.all([
      ...['wallets', 'ledger_entries', 'ledger_legs'].map((name) => createCollection(this.connection, name)),
      this.walletsToReconcile.ensureCollection(),
    ]);
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

  /**
   * The entry of a leg, found where its location says; null when no location was recorded (the leg
   * is not applied, or its writer died between the entry and its location: see findAppliedLeg).
   */
  async legEntry(change: { transactionId: string; leg: string; amount: number; userId: string }): Promise<LedgerEntryDocument | null> {
    const location = await this.legLocations.findOne({ _id: legIdOf(change.transactionId, change.leg, change.amount) });
    if (!location || location.userId !== change.userId.toLowerCase()) return null;
    const entry = await this.entryAt(location.userId, location.version);
    return entry?.transactionId?.toHexString() === change.transactionId.toLowerCase() && entry.leg === change.leg ? entry : null;
  }

  /** Every entry of a transaction whose location is recorded, by _id. */
  async entriesLocatedFor(transactionId: string): Promise<LedgerEntryDocument[]> {
    const locations = await Promise.all(legIdsOfTransaction(transactionId).map((_id) => this.legLocations.findOne({ _id })));
    const entries = await Promise.all(
      locations.filter((location) => location !== null).map((location) => this.entryAt(location.userId, location.version)),
    );
    return entries.filter((entry): entry is LedgerEntryDocument => entry?.transactionId?.toHexString() === transactionId.toLowerCase());
  }

  /** Whether every entry written before the ledger's first full reconciliation has its location recorded. */
  async locationsComplete(): Promise<boolean> {
    this.allLocated ||= (await this.legLocations.findOne({ _id: LOCATIONS_COMPLETE })) !== null;
    return this.allLocated;
  }

  /** Marks the locations of every entry written before now recorded (the first full reconciliation's last step). */
  async markLocationsComplete(): Promise<void> {
    await this.legLocations.updateOne({ _id: LOCATIONS_COMPLETE }, { $set: { userId: '', version: 0 } }, { upsert: true });
    this.allLocated = true;
  }

  /** Records where these legs landed (idempotent: a location already recorded stays as it is). */
  async recordLegLocations(entries: readonly LedgerEntryDocument[]): Promise<void> {
    const locations = entries
      .filter((entry) => entry.transactionId !== null && entry.leg !== 'opening')
      .map((entry) => ({
        _id: legIdOf(entry.transactionId!.toHexString(), entry.leg, entry.amount),
        userId: entry.userId.toHexString(),
        version: entry.version,
      }));
    if (locations.length === 0) return;
    try {
      await this.legLocations.insertMany(locations, { ordered: false });
    } catch (error) {
      if (!onlyDuplicateKeys(error)) throw error;
    }
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
