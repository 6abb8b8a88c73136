import { Types, type mongo } from 'mongoose';
import { isDuplicateKey } from '../database/duplicate-key';
import type { LegChange, AppliedLeg } from '../domain';
import type { Metrics } from '../metrics';
import { backoffDelayMs, sleep } from '../support/backoff';
import { entryHash, nextEntryTime, nextLink, type ChainLink, type WalletHead, GENESIS_HASH } from './chain';
import { BusinessRuleError, LedgerContentionError, LedgerInvariantError, LegVoidedError } from './errors';
import { type LedgerEntryDocument, type VoidedLegDocument, ledgerEntryIdOf, voidedLegIdOf } from './model';
import type { WalletProjection } from './projection';
import type { LedgerStore } from './store';

// Attempts at claiming a wallet's next version before the activity gives up and lets Temporal retry.
const MAX_VERSION_CLAIMS = 25;
const CONFLICT_BACKOFF = { initialMs: 2, maxMs: 100 };

/**
 * Told of each entry as soon as it is written (the live updates' hint). It runs on the money path, so
 * it must neither wait nor throw: a failure of it is logged by its owner and never fails the leg.
 */
export type EntryWrittenListener = (entry: { userId: string; version: number }) => void;

/** What inserting an entry at a version found: the entry written, the leg already there, or the version taken. */
type Claim = { kind: 'written'; entry: LedgerEntryDocument } | { kind: 'alreadyApplied'; entry: LedgerEntryDocument } | { kind: 'taken' };

/** A head whose chain hash is known. */
type ChainedHead = WalletHead & { hash: string };

/** A leg's entry, and whether this call wrote it or found it written before. */
export interface LegEntry {
  entry: LedgerEntryDocument;
  written: boolean;
}

/**
 * Writes a leg as the entry at its wallet's next version. The entry's _id `<userId>:<version>` lets
 * exactly one writer claim a version, and the unique index (transactionId, userId, leg) makes the
 * leg idempotent: a claim that loses either race finds out which, and builds on the real head. A
 * forward leg can also be voided: its key is then held by the void, and no entry can take it.
 */
export class LegWriter {
  constructor(
    private readonly store: LedgerStore,
    private readonly projection: WalletProjection,
    private readonly metrics: Metrics,
    private readonly onEntryWritten: EntryWrittenListener,
  ) {}

  async write(change: LegChange, signal: AbortSignal | undefined): Promise<LegEntry> {
    // A remembered head or the wallet document may be behind the ledger: a claim on either then
    // conflicts, and the ledger's head is read.
    let head = await this.sealed(await this.projection.headToBuildOn(change.userId));
    // Whether `head` was just read from the ledger itself, not from memory or the wallet document.
    let atLedgerHead = false;
    for (let attempt = 1; attempt <= MAX_VERSION_CLAIMS; attempt++) {
      signal?.throwIfAborted();
      const link = linkOrRefusal(head, change.amount);
      if (link instanceof BusinessRuleError) {
        // A refusal is final: it must rest on the ledger's head, never on a cache of it.
        if (!atLedgerHead) {
          atLedgerHead = true;
          head = await this.sealed(await this.projection.rollForward(change.userId));
          continue;
        }
        return this.refuseUnlessApplied(change, head, link);
      }
      const claim = await this.claim(change, link, head);
      if (claim.kind === 'written') return { entry: await this.written(change, claim.entry), written: true };
      if (claim.kind === 'alreadyApplied') return { entry: await this.confirm(change, claim.entry), written: false };
      // Another writer claimed this version first: find the wallet's real head and try again.
      this.metrics.ledgerVersionConflicts.inc();
      await sleep(backoffDelayMs(CONFLICT_BACKOFF, attempt));
      head = await this.sealed(await this.projection.rollForward(change.userId));
      atLedgerHead = true;
    }
    throw new LedgerContentionError(change.userId, MAX_VERSION_CLAIMS);
  }

  /** The head with its chain hash: a head written before entries were chained is sealed first. */
  private async sealed(head: WalletHead): Promise<ChainedHead> {
    if (head.hash !== null) return head as ChainedHead;
    return { ...head, hash: await sealChain(this.store, head.userId, head.version) };
  }

  private async claim(change: LegChange, link: ChainLink, head: ChainedHead): Promise<Claim> {
    const entry = entryOf(change, link, nextEntryTime(head, new Date()), head.hash);
    if (await this.store.insertEntry(entry)) return { kind: 'written', entry };
    const holder = await this.store.entryAt(change.userId, link.version);
    if (holder && isSameLeg(holder, change)) return { kind: 'alreadyApplied', entry: holder };
    if (holder) return { kind: 'taken' };
    // The version was free, so the leg's own key was taken: it was applied at an earlier version, or voided.
    if (await this.store.voidedLeg(change.transactionId, change.userId, change.leg)) {
      throw new LegVoidedError(change.transactionId, change.userId, change.leg);
    }
    const earlier = await findAppliedLeg(this.store, change, link.version - 1, LEG_LOOKBACK.applied);
    return earlier ? { kind: 'alreadyApplied', entry: earlier } : { kind: 'taken' };
  }

  /**
   * Voids a forward leg not applied: the void takes the leg's unique key, so its entry can never be
   * inserted after. Returns 'standing' when the entry holds the key already.
   */
  async voidLeg(change: LegChange): Promise<'voided' | 'standing'> {
    const voided: VoidedLegDocument = {
      _id: voidedLegIdOf(change.transactionId, change.userId, change.leg),
      transactionId: new Types.ObjectId(change.transactionId),
      userId: new Types.ObjectId(change.userId),
      leg: forwardLegOf(change),
      voidedAt: new Date(),
    };
    try {
      await (this.store.entryCollection as unknown as mongo.Collection<VoidedLegDocument>).insertOne(voided);
      return 'voided';
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
    return (await this.store.voidedLeg(change.transactionId, change.userId, change.leg)) ? 'voided' : 'standing';
  }

  private async written(change: LegChange, entry: LedgerEntryDocument): Promise<LedgerEntryDocument> {
    this.metrics.ledgerEntries.inc({ leg: change.leg });
    this.onEntryWritten({ userId: entry.userId.toHexString(), version: entry.version });
    await Promise.all([this.projection.written(change.userId, entry), this.store.recordLegLocations([entry])]);
    return entry;
  }

  /** A retried leg may already be applied: its own effect must not refuse it now. */
  private async refuseUnlessApplied(change: LegChange, head: ChainedHead, refusal: BusinessRuleError): Promise<LegEntry> {
    const existing = await findAppliedLeg(this.store, change, head.version, LEG_LOOKBACK.refused);
    if (!existing) throw refusal;
    return { entry: await this.confirm(change, existing), written: false };
  }

  private async confirm(change: LegChange, existing: LedgerEntryDocument): Promise<LedgerEntryDocument> {
    checkSameAmount(change, existing);
    // The attempt that wrote it may have died before updating the projection or recording where the leg is.
    await Promise.all([this.projection.rollForward(change.userId), this.store.recordLegLocations([existing])]);
    return existing;
  }
}

function forwardLegOf(change: LegChange): 'debit' | 'credit' {
  if (change.leg !== 'debit' && change.leg !== 'credit')
    throw new LedgerInvariantError(`only a forward leg can be voided, not a ${change.leg}`);
  return change.leg;
}

/** The next link, or the business rule it breaks (a broken invariant is thrown). */
function linkOrRefusal(head: WalletHead, amount: number): ChainLink | BusinessRuleError {
  try {
    return nextLink(head, amount);
  } catch (error) {
    if (error instanceof BusinessRuleError) return error;
    throw error;
  }
}

function entryOf(change: LegChange, link: ChainLink, createdAt: Date, previousHash: string): LedgerEntryDocument {
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
    createdAt,
    underRecord: true,
  };
  entry.hash = entryHash(entry, previousHash);
  return entry;
}

/** Entries of one wallet read and sealed at once. */
const SEAL_BATCH = 16;

/**
 * Gives a wallet's entries up to `version` their chain hashes where they were written before entries
 * were chained, and returns the hash at `version`. Sealed entries are always a prefix of a wallet's
 * versions (the writer seals a head before it builds on it, the migration seals from the bottom),
 * so the last sealed one is found by binary search and only the rest is read. Two sealers compute
 * the same hashes, so they may race; every batch sealed stays sealed, so a sealer stopped half-way
 * (a timed-out activity) leaves progress for the next.
 */
export async function sealChain(store: LedgerStore, userId: string, version: number, signal?: AbortSignal): Promise<string> {
  if (version === 0) return GENESIS_HASH;
  let sealed = 0;
  let unsealed = version;
  const head = await store.entryAt(userId, version);
  if (head?.hash) return head.hash;
  while (unsealed - sealed > 1) {
    const middle = Math.floor((sealed + unsealed) / 2);
    const entry = await entryOrThrow(store, userId, middle);
    if (entry.hash) sealed = middle;
    else unsealed = middle;
  }
  let previous = sealed === 0 ? GENESIS_HASH : (await entryOrThrow(store, userId, sealed)).hash!;
  for (let from = sealed + 1; from <= version; from += SEAL_BATCH) {
    signal?.throwIfAborted();
    const versions = Array.from({ length: Math.min(SEAL_BATCH, version - from + 1) }, (_, i) => from + i);
    const entries = await Promise.all(versions.map((v) => entryOrThrow(store, userId, v)));
    const seals = entries.map((entry) => {
      previous = entry.hash ?? entryHash(entry, previous);
      return { updateOne: { filter: { _id: entry._id }, update: { $set: { hash: previous } } } };
    });
    await store.entryCollection.bulkWrite(seals, { ordered: false });
  }
  return previous;
}

async function entryOrThrow(store: LedgerStore, userId: string, version: number) {
  const entry = await store.entryAt(userId, version);
  if (!entry) throw new LedgerInvariantError(`ledger of user ${userId} has no entry at version ${version}`);
  return entry;
}

/**
 * Entries of a wallet read back from its head, by _id, for a leg whose location was not recorded
 * (its writer died between the entry and the location): for a leg known to be applied (its key is
 * taken), and for a leg refused (only a retry of a leg that took the balance it now lacks).
 */
export const LEG_LOOKBACK = { applied: 2_000, refused: 2 } as const;
/** Entries read back at once. */
const LOOKBACK_BATCH = 16;

/**
 * The entry of a leg applied at version `latest` or before: where its location says, or else among
 * the `lookback` latest entries of its wallet (the location is then recorded). Every read is by _id,
 * so finding a leg costs the same however long the ledger grows; null when it is not found.
 */
export async function findAppliedLeg(
  store: LedgerStore,
  change: LegChange,
  latest: number,
  lookback: number,
): Promise<LedgerEntryDocument | null> {
  const located = await store.legEntry(change);
  if (located) return located;
  const lowest = Math.max(1, latest - lookback + 1);
  for (let to = latest; to >= lowest; to -= LOOKBACK_BATCH) {
    const versions = Array.from({ length: Math.min(LOOKBACK_BATCH, to - lowest + 1) }, (_, i) => to - i);
    const entries = await Promise.all(versions.map((version) => store.entryAt(change.userId, version)));
    const found = entries.find((entry) => entry && isSameLeg(entry, change));
    if (found) {
      await store.recordLegLocations([found]);
      return found;
    }
  }
  return null;
}

export function isSameLeg(entry: LedgerEntryDocument, change: LegChange): boolean {
  return entry.transactionId?.toHexString() === change.transactionId && entry.leg === change.leg;
}

/** A leg found already applied must be the same change; anything else is a corrupted ledger. */
export function checkSameAmount(change: LegChange, existing: LedgerEntryDocument): void {
  if (existing.amount !== change.amount) {
    throw new LedgerInvariantError(
      `transaction ${change.transactionId} leg ${change.leg} of user ${change.userId} was applied with ` +
        `amount ${existing.amount}, now requested with ${change.amount}`,
    );
  }
}

export function toAppliedLeg(entry: LedgerEntryDocument): AppliedLeg {
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
