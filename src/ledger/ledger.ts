import { Types } from 'mongoose';
import type { AppliedLeg, LegChange } from '../domain/transaction';
import type { Database } from '../persistence/mongo';
import { isDuplicateKey } from '../persistence/duplicate-key';
import type { LedgerEntryDocument } from '../persistence/ledger-entry.model';
import type { Metrics } from '../metrics';
import { backoffDelayMs, sleep } from '../support/backoff';
import { KeyedMutex } from '../support/keyed-mutex';
import { LedgerContentionError, LedgerInvariantError, WalletNotFoundError } from './errors';
import { nextLink, type WalletHead } from './ledger-chain';

// Attempts at claiming a wallet's next version before the activity gives up and lets Temporal retry.
const MAX_VERSION_CLAIMS = 25;
const CONFLICT_BACKOFF = { initialMs: 2, maxMs: 100 };
// Rounds of rolling a wallet projection forward while other writers race it (FerretDB may apply a
// stale conditional update after a newer one; the loop repairs that before returning).
const MAX_PROJECTION_ROUNDS = 10;

/**
 * The ledger owns every balance change. A change is an entry inserted at the wallet's next version;
 * two unique indexes make it safe on FerretDB as on MongoDB without multi-document transactions:
 * (userId, version) lets one writer claim a version, (transactionId, userId, leg) makes a leg
 * idempotent. The wallet document is a projection rolled forward from the entries.
 */
export class Ledger {
  // Writers of one wallet in this process take turns; the unique index still arbitrates between processes.
  private readonly walletWriters = new KeyedMutex();

  constructor(
    private readonly db: Database,
    private readonly metrics: Metrics,
    private readonly initialBalance: number,
  ) {}

  /** Creates the user's wallet, once; a repeated sign-up changes nothing. */
  async openWallet(userId: string): Promise<{ created: boolean }> {
    const user = new Types.ObjectId(userId);
    const opening = this.initialBalance > 0;
    if (opening) {
      // The initial balance is an entry like any other, so the ledger alone explains every balance.
      await this.insertIgnoringDuplicate({
        _id: new Types.ObjectId(),
        userId: user,
        version: 1,
        transactionId: null,
        transactionType: null,
        leg: 'opening',
        amount: this.initialBalance,
        balanceAfter: this.initialBalance,
        counterpartyUserId: null,
        createdAt: new Date(),
      });
    }
    try {
      await this.db.wallets.create({
        userId: user,
        balance: this.initialBalance,
        version: opening ? 1 : 0,
      });
      // A leg may have reached the ledger between the opening entry and this document.
      if (opening) await this.repairProjection(user);
      return { created: true };
    } catch (error) {
      if (isDuplicateKey(error)) return { created: false };
      throw error;
    }
  }

  /**
   * Applies one leg exactly once: a retry of the same (transactionId, userId, leg) returns the entry
   * the first attempt wrote, whatever happened in between.
   */
  applyLeg(change: LegChange): Promise<AppliedLeg> {
    return this.walletWriters.run(change.userId, () => this.claimNextVersion(change));
  }

  private async claimNextVersion(change: LegChange): Promise<AppliedLeg> {
    const userId = new Types.ObjectId(change.userId);
    let head = await this.ledgerHead(userId);
    for (let attempt = 1; attempt <= MAX_VERSION_CLAIMS; attempt++) {
      let link;
      try {
        link = nextLink(head, change.amount);
      } catch (refusal) {
        // A retried leg may already be applied; its own effect must not refuse it now.
        const existing = await this.findLeg(change);
        if (existing) return this.confirmExisting(change, existing);
        throw refusal;
      }
      const entry: LedgerEntryDocument = {
        _id: new Types.ObjectId(),
        userId,
        version: link.version,
        transactionId: new Types.ObjectId(change.transactionId),
        transactionType: change.transactionType,
        leg: change.leg,
        amount: link.amount,
        balanceAfter: link.balanceAfter,
        counterpartyUserId: change.counterpartyUserId ? new Types.ObjectId(change.counterpartyUserId) : null,
        createdAt: new Date(),
      };
      try {
        await this.db.ledgerEntries.collection.insertOne(entry);
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
        const existing = await this.findLeg(change);
        if (existing) return this.confirmExisting(change, existing);
        // Another writer claimed this version first.
        this.metrics.ledgerVersionConflicts.inc();
        await sleep(backoffDelayMs(CONFLICT_BACKOFF, attempt));
        head = await this.ledgerHead(userId);
        continue;
      }
      this.metrics.ledgerEntries.inc({ leg: change.leg });
      await this.rollProjectionForward(userId, entry);
      return toAppliedLeg(entry);
    }
    throw new LedgerContentionError(change.userId, MAX_VERSION_CLAIMS);
  }

  /** Entries recorded for a transaction, oldest first. */
  async entriesOfTransaction(transactionId: string): Promise<LedgerEntryDocument[]> {
    return this.db.ledgerEntries
      .find({ transactionId: new Types.ObjectId(transactionId) })
      .sort({ createdAt: 1, _id: 1 })
      .limit(16)
      .lean<LedgerEntryDocument[]>()
      .exec();
  }

  /**
   * The wallet's head as its ledger records it: the latest entry, so every new entry is computed from
   * the one it follows. A wallet without entries is the freshly opened wallet document.
   */
  private async ledgerHead(userId: Types.ObjectId): Promise<WalletHead> {
    const latest = await this.latestEntry(userId);
    if (latest) return { userId: userId.toHexString(), balance: latest.balanceAfter, version: latest.version };
    const wallet = await this.db.wallets.findOne({ userId }, { balance: 1, version: 1 }).lean().exec();
    if (!wallet) throw new WalletNotFoundError(userId.toHexString());
    if (wallet.version !== 0) {
      // Another writer's first entry landed after our first read; the projection follows entries,
      // so a second read of the ledger must see it.
      const landed = await this.latestEntry(userId);
      if (landed) return { userId: userId.toHexString(), balance: landed.balanceAfter, version: landed.version };
    }
    if (wallet.version !== 0 || wallet.balance !== 0) {
      throw new LedgerInvariantError(
        `wallet of user ${userId.toHexString()} is at version ${wallet.version} with balance ${wallet.balance} but has no ledger entries`,
      );
    }
    return { userId: userId.toHexString(), balance: 0, version: 0 };
  }

  private latestEntry(userId: Types.ObjectId) {
    return this.db.ledgerEntries
      .findOne({ userId }, { version: 1, balanceAfter: 1 })
      .sort({ version: -1 })
      .lean<Pick<LedgerEntryDocument, 'version' | 'balanceAfter'>>()
      .exec();
  }

  /** Copies the entry into the wallet document if the document was at the previous version. */
  private async rollProjectionForward(userId: Types.ObjectId, entry: LedgerEntryDocument): Promise<void> {
    const result = await this.db.wallets
      .updateOne(
        { userId, version: entry.version - 1 },
        { $set: { balance: entry.balanceAfter, version: entry.version, updatedAt: entry.createdAt } },
      )
      .exec();
    if (result.matchedCount === 0) await this.repairProjection(userId);
  }

  /** Rolls the wallet document forward to the ledger's latest entry, whatever version it holds. */
  async repairProjection(userId: Types.ObjectId): Promise<void> {
    for (let round = 0; round < MAX_PROJECTION_ROUNDS; round++) {
      const [latest, wallet] = await Promise.all([
        this.latestEntry(userId),
        this.db.wallets.findOne({ userId }, { version: 1 }).lean().exec(),
      ]);
      if (!latest || !wallet || wallet.version >= latest.version) return;
      await this.db.wallets
        .updateOne(
          { userId, version: wallet.version },
          { $set: { balance: latest.balanceAfter, version: latest.version, updatedAt: new Date() } },
        )
        .exec();
    }
  }

  private findLeg(change: LegChange) {
    return this.db.ledgerEntries
      .findOne({
        transactionId: new Types.ObjectId(change.transactionId),
        userId: new Types.ObjectId(change.userId),
        leg: change.leg,
      })
      .lean<LedgerEntryDocument>()
      .exec();
  }

  /** A leg found already applied must be the same change; anything else is a corrupted ledger. */
  private async confirmExisting(change: LegChange, existing: LedgerEntryDocument): Promise<AppliedLeg> {
    if (existing.amount !== change.amount) {
      throw new LedgerInvariantError(
        `transaction ${change.transactionId} leg ${change.leg} of user ${change.userId} was applied with ` +
          `amount ${existing.amount}, now requested with ${change.amount}`,
      );
    }
    // The attempt that wrote it may have died before updating the projection.
    await this.repairProjection(existing.userId);
    return toAppliedLeg(existing);
  }

  private async insertIgnoringDuplicate(entry: LedgerEntryDocument): Promise<void> {
    try {
      await this.db.ledgerEntries.collection.insertOne(entry);
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
  }
}

function toAppliedLeg(entry: LedgerEntryDocument): AppliedLeg {
  if (entry.leg === 'opening' || entry.transactionId === null) {
    throw new LedgerInvariantError(`entry ${entry._id.toHexString()} is not a transaction leg`);
  }
  return {
    transactionId: entry.transactionId.toHexString(),
    leg: entry.leg,
    userId: entry.userId.toHexString(),
    amount: entry.amount,
    balanceAfter: entry.balanceAfter,
    version: entry.version,
  };
}
