import { Types } from 'mongoose';
import { isDuplicateKey } from '../database/duplicate-key';
import type { AppliedLeg, LegChange, UndoLeg, ForwardLeg } from '../domain';
import type { Metrics } from '../metrics';
import { KeyedMutex } from '../support/keyed-mutex';
import { type WalletHead, entryHash, GENESIS_HASH } from './chain';
import { LegNotLocatedError } from './errors';
import {
  checkSameAmount,
  findAppliedLeg,
  LEG_LOOKBACK,
  toAppliedLeg,
  LegWriter,
  type EntryWrittenListener,
  type LegEntry,
} from './leg-writer';
import { ENTRIES_ONLY, type LedgerEntryDocument, ledgerEntryIdOf, walletIdOf } from './model';
import { WalletProjection } from './projection';
import type { LedgerStore } from './store';

// The ledger's write side as its callers see it: open a wallet, apply, void or undo a leg once, find
// a transaction's entries by their locations.

/** A transaction has at most a debit, a credit and an undo of each. */
const MAX_ENTRIES_PER_TRANSACTION = 16;

/**
 * A leg as the ledger holds it; whether its entry predates its transaction's record (see
 * LedgerEntryDocument.underRecord); and, for a forward leg found applied before, whether an undo of
 * it stands already.
 */
export interface LedgerLeg {
  leg: AppliedLeg;
  predatesRecord: boolean;
  undone: boolean;
}

function ledgerLegOf({ entry, written }: LegEntry): LedgerLeg {
  return { leg: toAppliedLeg(entry), predatesRecord: !written && !entry.underRecord, undone: false };
}

const UNDO_LEGS: readonly UndoLeg[] = ['compensation', 'reversal'];

/**
 * The ledger owns every balance change: each is an entry at the wallet's next version (see
 * LegWriter), made safe on FerretDB as on MongoDB without multi-document transactions by two unique
 * keys. The wallet document is a projection of the wallet's latest entry (see WalletProjection).
 */
export class Ledger {
  // Writers of one wallet in this process take turns; the unique keys still arbitrate between processes.
  private readonly walletWriters = new KeyedMutex();
  private readonly projection: WalletProjection;
  private readonly writer: LegWriter;

  constructor(
    private readonly store: LedgerStore,
    metrics: Metrics,
    private readonly initialBalance: number,
    onEntryWritten: EntryWrittenListener = () => undefined,
  ) {
    this.projection = new WalletProjection(store);
    this.writer = new LegWriter(store, this.projection, metrics, onEntryWritten);
  }

  openWallet(userId: string): Promise<{ created: boolean }> {
    return openWallet(this.store, this.projection, userId, this.initialBalance);
  }

  /**
   * Applies one leg exactly once: a retry of the same (transactionId, userId, leg) returns the entry
   * the first attempt wrote, whatever happened in between. An attempt whose `signal` aborted (its
   * activity timed out and was retried) writes nothing more: it would only load the database for
   * an answer nobody waits for, and the retry queues behind it. Throws a BusinessRuleError for a
   * refusal and a LegVoidedError for a forward leg its transaction's Failed decision voided.
   */
  async applyLeg(change: LegChange, signal?: AbortSignal): Promise<LedgerLeg> {
    const applied = await this.walletWriters.run(change.userId, () => this.writer.write(change, signal), signal);
    const leg = ledgerLegOf(applied);
    if (applied.written || (change.leg !== 'debit' && change.leg !== 'credit')) return leg;
    // Found applied before: runs of the release before decisions were recorded first undid a leg
    // before recording why, so an undo may stand with no decision on the record.
    return { ...leg, undone: await this.undoStands(change) };
  }

  /** Whether an undo of a forward leg stands, under either undo leg, where its location says. */
  private async undoStands(forward: LegChange): Promise<boolean> {
    const undos = await Promise.all(UNDO_LEGS.map((undo) => this.store.legEntry({ ...forward, leg: undo, amount: -forward.amount })));
    return undos.some((entry) => entry !== null);
  }

  /** Voids a forward leg not applied, for good; 'standing' when it was applied. */
  voidLeg(change: LegChange): Promise<'voided' | 'standing'> {
    return this.writer.voidLeg(change);
  }

  /**
   * Undoes a forward leg exactly once, under `undo`: the undo's key (transactionId, userId, undo)
   * is the same whoever undoes it. The forward leg is read back first and must stand as asked.
   */
  async undoLeg(forward: LegChange, undo: UndoLeg, signal?: AbortSignal): Promise<LedgerLeg> {
    // The ledger's own head: the wallet document may lag the very leg undone (its writer died before copying it).
    const head = await this.projection.rollForward(forward.userId);
    const applied = await findAppliedLeg(this.store, forward, head.version, LEG_LOOKBACK.applied);
    // Only a leg applied is undone: its location was lost with its writer, and lies deeper than the lookback.
    if (!applied) throw new LegNotLocatedError(forward.transactionId, forward.userId, forward.leg);
    checkSameAmount(forward, applied);
    const change: LegChange = { ...forward, leg: undo, amount: -forward.amount };
    if (!applied.underRecord) {
      // Applied before records were kept: the previous release may have undone it under the other undo leg.
      const other = await findAppliedLeg(
        this.store,
        { ...change, leg: undo === 'compensation' ? 'reversal' : 'compensation' },
        head.version,
        LEG_LOOKBACK.applied,
      );
      if (other) return { leg: toAppliedLeg(other), predatesRecord: true, undone: false };
    }
    return this.applyLeg(change, signal);
  }

  /**
   * A transaction's entries, found where their locations say (reads by _id). Entries written before
   * locations were kept are found by transactionId (a scan on FerretDB) until the ledger's first full
   * reconciliation has recorded their locations.
   */
  async entriesOfTransaction(transactionId: string): Promise<LedgerEntryDocument[]> {
    const located = await this.store.entriesLocatedFor(transactionId);
    if (located.length > 0 || (await this.store.locationsComplete())) return located;
    return this.store.entries
      .find({ transactionId: new Types.ObjectId(transactionId), ...ENTRIES_ONLY })
      .limit(MAX_ENTRIES_PER_TRANSACTION)
      .lean<LedgerEntryDocument[]>()
      .exec();
  }

  /** What a legacy execution's rollback undoes (see reversalsFrom). */
  async reversalsOf(transactionId: string): Promise<LegChange[]> {
    return reversalsFrom(transactionId, await this.entriesOfTransaction(transactionId));
  }

  /** Brings a wallet document that lags its ledger up to the ledger's head, and returns that head. */
  rollProjectionForward(userId: string): Promise<WalletHead> {
    return this.projection.rollForward(userId);
  }
}

/** Creates the user's wallet, once; a repeated sign-up changes nothing. */
export async function openWallet(
  store: LedgerStore,
  projection: WalletProjection,
  userId: string,
  initialBalance: number,
): Promise<{ created: boolean }> {
  const user = new Types.ObjectId(userId);
  const opening = initialBalance > 0;
  // Marked first: the reconciliation must see the opening entry, which no transaction marks.
  await store.walletsToReconcile.mark([userId.toLowerCase()]);
  // The initial balance is an entry like any other, so the ledger alone explains every balance.
  if (opening) await insertOpeningEntry(store, user, userId, initialBalance);
  try {
    await store.wallets.create({ _id: walletIdOf(userId), userId: user, balance: initialBalance, version: opening ? 1 : 0 });
  } catch (error) {
    if (isDuplicateKey(error)) return { created: false };
    throw error;
  }
  // A leg may have reached the ledger between the opening entry and this document.
  if (opening) await projection.rollForward(userId);
  return { created: true };
}

async function insertOpeningEntry(store: LedgerStore, user: Types.ObjectId, userId: string, amount: number): Promise<void> {
  const entry: LedgerEntryDocument = {
    _id: ledgerEntryIdOf(userId, 1),
    userId: user,
    version: 1,
    transactionId: null,
    transactionType: null,
    leg: 'opening',
    amount,
    balanceAfter: amount,
    counterpartyUserId: null,
    createdAt: new Date(),
  };
  entry.hash = entryHash(entry, GENESIS_HASH);
  try {
    await store.entryCollection.insertOne(entry);
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
  }
}

/** The order in which a transaction applies its forward legs: a transfer debits, then credits. */
const FORWARD_SEQUENCE: Record<ForwardLeg, number> = { debit: 0, credit: 1 };

/**
 * For executions started before transactions were decided once: the reversals that would undo what
 * a transaction still has standing in its entries, each forward leg (debit, credit) not yet
 * compensated or reversed, last applied first. The order is the transaction's own sequence, not the
 * entries' `createdAt`, which each worker stamps from its own clock.
 */
export function reversalsFrom(transactionId: string, entries: LedgerEntryDocument[]): LegChange[] {
  const undone = new Set(entries.filter((e) => e.leg === 'compensation' || e.leg === 'reversal').map((e) => e.userId.toHexString()));
  return entries
    .filter(
      (e): e is LedgerEntryDocument & { leg: ForwardLeg } =>
        (e.leg === 'debit' || e.leg === 'credit') && !undone.has(e.userId.toHexString()),
    )
    .sort((a, b) => FORWARD_SEQUENCE[b.leg] - FORWARD_SEQUENCE[a.leg])
    .map((e) => ({
      transactionId,
      transactionType: e.transactionType ?? 'Transfer',
      leg: 'reversal' as const,
      userId: e.userId.toHexString(),
      amount: -e.amount,
      counterpartyUserId: e.counterpartyUserId?.toHexString(),
    }));
}
