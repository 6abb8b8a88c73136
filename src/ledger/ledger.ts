import { Types } from 'mongoose';
import type { AppliedLeg, ForwardLeg, LegChange } from '../domain/transaction';
import type { Database } from '../persistence/mongo';
import { isDuplicateKey } from '../persistence/duplicate-key';
import { ledgerEntryIdOf, walletIdOf } from '../persistence/keys';
import type { LedgerEntryDocument } from '../persistence/ledger-entry.model';
import type { Metrics } from '../metrics';
import { backoffDelayMs, sleep } from '../support/backoff';
import { KeyedMutex } from '../support/keyed-mutex';
import { LedgerContentionError, LedgerInvariantError, WalletNotFoundError } from './errors';
import { nextLink, type WalletHead } from './ledger-chain';

// Attempts at claiming a wallet's next version before the activity gives up and lets Temporal retry.
const MAX_VERSION_CLAIMS = 25;
const CONFLICT_BACKOFF = { initialMs: 2, maxMs: 100 };
// Entries looked ahead of a stale wallet document before giving up (each is one read by _id).
const MAX_ROLL_FORWARD = 10_000;
// Wallet heads this process wrote or verified, remembered to build on (bounded: oldest forgotten).
const MAX_REMEMBERED_HEADS = 10_000;
// Latest entries of a wallet read by _id, before the leg index is asked, for a leg known to be
// applied, and for a leg refused (most refusals are real: there the index has to answer anyway).
const LEG_LOOKBACK = { applied: 32, refused: 2 };
/** The order in which a transaction applies its forward legs: a transfer debits, then credits. */
const FORWARD_SEQUENCE: Record<ForwardLeg, number> = { debit: 0, credit: 1 };

/**
 * The ledger owns every balance change. A change is an entry inserted at the wallet's next version,
 * made safe on FerretDB as on MongoDB without multi-document transactions by two unique keys: the
 * entry's _id `<userId>:<version>` lets exactly one writer claim a version, and the unique index
 * (transactionId, userId, leg) makes a leg idempotent. The wallet document is a projection of the
 * wallet's latest entry, rolled forward after every write and whenever it is found behind.
 */
export class Ledger {
  // Writers of one wallet in this process take turns; the unique keys still arbitrate between processes.
  private readonly walletWriters = new KeyedMutex();
  /** The latest entry this process wrote or verified per wallet: the next claim builds on it. */
  private readonly knownHeads = new Map<string, WalletHead>();

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
        _id: ledgerEntryIdOf(userId, 1),
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
        _id: walletIdOf(userId),
        userId: user,
        balance: this.initialBalance,
        version: opening ? 1 : 0,
      });
    } catch (error) {
      if (isDuplicateKey(error)) return { created: false };
      throw error;
    }
    // A leg may have reached the ledger between the opening entry and this document.
    if (opening) await this.rollProjectionForward(userId);
    return { created: true };
  }

  /**
   * Applies one leg exactly once: a retry of the same (transactionId, userId, leg) returns the entry
   * the first attempt wrote, whatever happened in between. An attempt whose `signal` aborted (its
   * activity timed out and was retried) writes nothing more: it would only load the database for
   * an answer nobody waits for, and the retry queues behind it.
   */
  applyLeg(change: LegChange, signal?: AbortSignal): Promise<AppliedLeg> {
    return this.walletWriters.run(change.userId, () => this.claimNextVersion(change, signal), signal);
  }

  private async claimNextVersion(change: LegChange, signal: AbortSignal | undefined): Promise<AppliedLeg> {
    // The entry this process last wrote or verified for the wallet is a true link of its chain, so
    // the next version can be claimed on top of it without reading the wallet document: if another
    // process wrote since, the claim conflicts and the wallet's real head is read then. The wallet
    // document is a cache too: a claim on it conflicts the same way when the ledger is ahead.
    const remembered = this.knownHeads.get(change.userId);
    let head = remembered ?? (await this.projectedHead(change.userId));
    // Whether `head` was just read from the ledger itself, not from memory or the wallet document.
    let atLedgerHead = false;
    for (let attempt = 1; attempt <= MAX_VERSION_CLAIMS; attempt++) {
      signal?.throwIfAborted();
      let link;
      try {
        link = nextLink(head, change.amount);
      } catch (refusal) {
        // A refusal is final: it must rest on the ledger's head, never on a cache of it.
        if (!atLedgerHead) {
          atLedgerHead = true;
          head = await this.rollProjectionForward(change.userId);
          continue;
        }
        // A retried leg may already be applied; its own effect must not refuse it now.
        const existing = await this.findLeg(change, head.version, LEG_LOOKBACK.refused);
        if (existing) return this.confirmExisting(change, existing);
        throw refusal;
      }
      const entry: LedgerEntryDocument = {
        _id: ledgerEntryIdOf(change.userId, link.version),
        userId: new Types.ObjectId(change.userId),
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
        await this.db.ledgerEntryCollection.insertOne(entry);
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
        const holder = await this.entryAt(change.userId, link.version);
        if (holder && isSameLeg(holder, change)) return this.confirmExisting(change, holder);
        if (!holder) {
          // The version was free, so the leg's own key was taken: it was applied at an earlier version.
          const existing = await this.findLeg(change, link.version - 1, LEG_LOOKBACK.applied);
          if (existing) return this.confirmExisting(change, existing);
        }
        // Another writer claimed this version first: find the wallet's real head and try again.
        this.metrics.ledgerVersionConflicts.inc();
        await sleep(backoffDelayMs(CONFLICT_BACKOFF, attempt));
        head = await this.rollProjectionForward(change.userId);
        atLedgerHead = true;
        continue;
      }
      this.metrics.ledgerEntries.inc({ leg: change.leg });
      this.remember(change.userId, entry);
      await this.setProjection(change.userId, entry);
      return toAppliedLeg(entry);
    }
    throw new LedgerContentionError(change.userId, MAX_VERSION_CLAIMS);
  }

  /**
   * The reversals that would undo what a transaction still has standing in the ledger: each forward
   * leg (debit, credit) not yet compensated or reversed, last applied first. Read from the ledger
   * itself, so an execution that did not apply the legs can undo them (a scan on FerretDB; rare).
   * The order is the transaction's own sequence, not the entries' `createdAt`, which each worker
   * stamps from its own clock.
   */
  async reversalsOf(transactionId: string): Promise<LegChange[]> {
    const entries = await this.db.ledgerEntries
      .find({ transactionId: new Types.ObjectId(transactionId) })
      .limit(16)
      .lean<LedgerEntryDocument[]>()
      .exec();
    const undone = new Set(entries.filter((e) => e.leg === 'compensation' || e.leg === 'reversal').map((e) => e.userId.toHexString()));
    return entries
      .filter((e) => (e.leg === 'debit' || e.leg === 'credit') && !undone.has(e.userId.toHexString()))
      .sort((a, b) => FORWARD_SEQUENCE[b.leg as ForwardLeg] - FORWARD_SEQUENCE[a.leg as ForwardLeg])
      .map((e) => ({
        transactionId,
        transactionType: e.transactionType ?? 'Transfer',
        leg: 'reversal' as const,
        userId: e.userId.toHexString(),
        amount: -e.amount,
        counterpartyUserId: e.counterpartyUserId?.toHexString(),
      }));
  }

  /**
   * Brings the wallet document up to its ledger's latest entry, reading entries ahead of it by _id,
   * and returns the head. Repeats while other writers race it (FerretDB may apply a stale update
   * after a newer one), so the document is current when this returns.
   */
  async rollProjectionForward(userId: string): Promise<WalletHead> {
    for (;;) {
      const head = await this.projectedHead(userId);
      let latest: LedgerEntryDocument | null = null;
      for (let ahead = 1; ahead <= MAX_ROLL_FORWARD; ahead++) {
        const next = await this.entryAt(userId, head.version + ahead);
        if (!next) break;
        latest = next;
      }
      if (!latest) return head;
      await this.setProjection(userId, latest);
    }
  }

  /**
   * The head the wallet document records, checked against the entry it copies: every new entry is
   * computed from it, so a document that disagrees with its ledger must never be built upon. The
   * check reads the entry back unless this process wrote it (and remembers what it wrote).
   */
  private async projectedHead(userId: string): Promise<WalletHead> {
    const wallet = await this.db.wallets.findById(walletIdOf(userId), { balance: 1, version: 1 }).lean().exec();
    if (!wallet) throw new WalletNotFoundError(userId);
    const known = this.knownHeads.get(userId);
    if (known && known.version === wallet.version && known.balance === wallet.balance) {
      return { userId, balance: wallet.balance, version: wallet.version };
    }
    const copied = wallet.version === 0 ? null : await this.entryAt(userId, wallet.version);
    const expected = copied?.balanceAfter ?? 0;
    if ((wallet.version > 0 && !copied) || wallet.balance !== expected) {
      throw new LedgerInvariantError(
        `wallet of user ${userId} says ${wallet.balance} at version ${wallet.version}, its ledger ${copied ? copied.balanceAfter : 'has no such entry'}`,
      );
    }
    if (copied) this.remember(userId, copied);
    return { userId, balance: wallet.balance, version: wallet.version };
  }

  private remember(userId: string, entry: Pick<LedgerEntryDocument, 'version' | 'balanceAfter'>): void {
    this.knownHeads.delete(userId);
    this.knownHeads.set(userId, { userId, balance: entry.balanceAfter, version: entry.version });
    if (this.knownHeads.size > MAX_REMEMBERED_HEADS) this.knownHeads.delete(this.knownHeads.keys().next().value!);
  }

  /**
   * Copies an entry into the wallet document. The document is a cache of the ledger: where another
   * process raced this one, it may be left behind, and is rolled forward by the next change of the
   * wallet (its version claim conflicts) or by reconciliation; reads look ahead of it meanwhile.
   */
  private async setProjection(userId: string, entry: LedgerEntryDocument): Promise<void> {
    const result = await this.db.wallets
      .updateOne(
        { _id: walletIdOf(userId) },
        { $set: { balance: entry.balanceAfter, version: entry.version, updatedAt: entry.createdAt } },
      )
      .exec();
    // Wallets are never deleted: an entry was written for a wallet whose document has vanished.
    if (result.matchedCount === 0) {
      this.knownHeads.delete(userId);
      throw new LedgerInvariantError(`wallet of user ${userId} has entries up to version ${entry.version} but no wallet document`);
    }
  }

  private entryAt(userId: string, version: number) {
    return this.db.ledgerEntries.findById(ledgerEntryIdOf(userId, version)).lean<LedgerEntryDocument>().exec();
  }

  /**
   * The entry of a leg applied at `latest` or before. A leg applied again is nearly always one of
   * its wallet's latest entries (a retry, or a workflow task run again soon after its first run),
   * so the `lookback` latest are read first, by _id. Only then is the leg looked up by its
   * idempotency key: an index on MongoDB but a scan on FerretDB, which, run by hundreds of legs at
   * once after a stall, kept FerretDB saturated for good.
   */
  private async findLeg(change: LegChange, latest: number, lookback: number): Promise<LedgerEntryDocument | null> {
    for (let version = latest; version >= 1 && version > latest - lookback; version--) {
      const entry = await this.entryAt(change.userId, version);
      if (entry && isSameLeg(entry, change)) return entry;
    }
    return latest > lookback ? this.findLegByKey(change) : null;
  }

  private findLegByKey(change: LegChange) {
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
    await this.rollProjectionForward(change.userId);
    return toAppliedLeg(existing);
  }

  private async insertIgnoringDuplicate(entry: LedgerEntryDocument): Promise<void> {
    try {
      await this.db.ledgerEntryCollection.insertOne(entry);
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
  }
}

function isSameLeg(entry: LedgerEntryDocument, change: LegChange): boolean {
  return entry.transactionId?.toHexString() === change.transactionId && entry.leg === change.leg;
}

function toAppliedLeg(entry: LedgerEntryDocument): AppliedLeg {
  if (entry.leg === 'opening' || entry.transactionId === null) {
    throw new LedgerInvariantError(`entry ${entry._id} is not a transaction leg`);
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
