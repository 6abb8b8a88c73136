import type { Connection, Model, mongo } from 'mongoose';
import { createCollection } from '../database/connection';
import { GroupedInserts } from '../database/group-commit';
import { MarkSet } from '../database/mark-set';
import { LedgerInvariantError } from './errors';
import {
  ledgerEntryIdOf,
  legIdOf,
  legIdsOfTransaction,
  voidedLegIdOf,
  walletIdOf,
  ledgerEntrySchema,
  REPLACED_INDEXES,
  type LedgerEntryDocument,
  type VoidedLegDocument,
  walletSchema,
  type WalletDocument,
} from './model';

// The ledger's collections and every query of them: by `_id` wherever FerretDB is to answer from an
// index (a wallet's entry at a version, a leg's location), and the few reads that walk a range.

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
 * The ledger's collections and the reads every part of it shares. Each read is by _id (see the keys in model.ts),
 * so it costs the same however long the ledger grows, on FerretDB as on MongoDB.
 */
export class LedgerStore {
  readonly wallets: Model<WalletDocument>;
  readonly entries: Model<LedgerEntryDocument>;
  /** The driver's collection, for the ledger's raw inserts (no mongoose casting on the hot path). */
  readonly entryCollection: mongo.Collection<LedgerEntryDocument>;
  /** The same for the wallet documents' copies of their latest entries. */
  private readonly walletCollection: mongo.Collection<WalletDocument>;
  /** Where each leg of each transaction landed, so that finding a leg is a read by _id. */
  readonly legLocations: mongo.Collection<LegLocationDocument>;
  private allLocated = false;
  /** Concurrent transfers' entries, one insert for all those written while another is in flight. */
  private readonly entryInserts: GroupedInserts<LedgerEntryDocument>;
  /** The same for leg locations. */
  private readonly locationInserts: GroupedInserts<LegLocationDocument>;
  /** Wallets the reconciliation has to look at though no marked transaction touches them: new ones, and ones it found in doubt. */
  readonly walletsToReconcile: MarkSet;

  constructor(private readonly connection: Connection) {
    this.wallets = connection.model<WalletDocument>('Wallet', walletSchema, 'wallets');
    this.entries = connection.model<LedgerEntryDocument>('LedgerEntry', ledgerEntrySchema, 'ledger_entries');
    this.entryCollection = this.entries.collection as unknown as mongo.Collection<LedgerEntryDocument>;
    this.walletCollection = this.wallets.collection as unknown as mongo.Collection<WalletDocument>;
    this.legLocations = connection.collection<LegLocationDocument>('ledger_legs');
    this.entryInserts = new GroupedInserts(this.entryCollection);
    this.locationInserts = new GroupedInserts(this.legLocations);
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

  /** Records where these legs landed (idempotent: a leg recorded again, by a retry or a repair, keeps its location). */
  async recordLegLocations(entries: readonly LedgerEntryDocument[]): Promise<void> {
    const locations = entries
      .filter((entry) => entry.transactionId !== null && entry.leg !== 'opening')
      .map((entry) => ({
        _id: legIdOf(entry.transactionId!.toHexString(), entry.leg, entry.amount),
        userId: entry.userId.toHexString(),
        version: entry.version,
      }));
    await this.locationInserts.insertAbsent(locations);
  }

  /**
   * Inserts an entry unless one of its keys is held (its version by another entry, its leg by the
   * same leg's entry or void); whether it did.
   */
  insertEntry(entry: LedgerEntryDocument): Promise<boolean> {
    return this.entryInserts.insertOnce(entry);
  }

  /**
   * Copies each entry into its wallet's document (balance, version, and the entry's time), in order,
   * by one command; answers whether each wallet's document was there. The command reports only how
   * many documents matched in all, so a shortfall is told apart by reading each one back by _id.
   */
  async copyToWallets(entries: readonly LedgerEntryDocument[]): Promise<boolean[]> {
    const walletIds = entries.map((entry) => walletIdOf(entry.userId.toHexString()));
    const copies = entries.map((entry, i) => ({
      updateOne: {
        filter: { _id: walletIds[i] },
        update: { $set: { balance: entry.balanceAfter, version: entry.version, updatedAt: entry.createdAt } },
      },
    }));
    const { matchedCount } = await this.walletCollection.bulkWrite(copies, { ordered: true });
    if (matchedCount === entries.length) return entries.map(() => true);
    const found = await Promise.all(walletIds.map((_id) => this.walletCollection.findOne({ _id }, { projection: { _id: 1 } })));
    return found.map((wallet) => wallet !== null);
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

/**
 * The entry at `version` (the one the wallet document copies) or the newest beyond it, read by _id;
 * null for a wallet without entries. The document may lag its ledger, never lead it.
 */
export async function latestEntryFrom(store: LedgerStore, userId: string, version: number): Promise<LedgerEntryDocument | null> {
  const copied = version > 0 ? await store.entryAt(userId, version) : null;
  if (version > 0 && !copied) throw new LedgerInvariantError(`wallet of user ${userId} is at version ${version}, which its ledger lacks`);
  return (await store.newestAfter(userId, version)) ?? copied;
}

/** A wallet's latest entry as its ledger holds it now: `undefined` without a wallet, null before its first entry. */
export async function ledgerHeadOf(store: LedgerStore, userId: string): Promise<LedgerEntryDocument | null | undefined> {
  const wallet = await store.walletOf(userId, { version: 1 });
  if (!wallet) return undefined;
  return latestEntryFrom(store, userId, wallet.version);
}

// Finding a moment in a wallet's ledger without an index on time: an entry is never stamped earlier
// than the one before it (see nextEntryTime), so along versions 1..head the entries' times never
// decrease, and the first version at or past a moment is found by binary search over versions, with
// O(log head) reads by _id. FerretDB would scan the whole collection for a query on createdAt.

/**
 * The first version in `lowest..head` whose entry's time has `reached` the moment sought (a test that
 * is false, then true, along the versions), or head + 1 when none has.
 */
export async function firstVersionReaching(
  store: LedgerStore,
  userId: string,
  head: number,
  reached: (createdAt: Date) => boolean,
  lowest = 1,
): Promise<number> {
  let low = lowest;
  let high = head + 1;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if (reached((await entryAt(store, userId, middle)).createdAt)) high = middle;
    else low = middle + 1;
  }
  return low;
}

/** An entry that must exist: versions 1..head are gapless. */
export async function entryAt(store: LedgerStore, userId: string, version: number): Promise<LedgerEntryDocument> {
  const entry = await store.entryAt(userId, version);
  if (!entry) throw new LedgerInvariantError(`ledger of user ${userId} has no entry at version ${version}`);
  return entry;
}
