import { Types } from 'mongoose';
import type { ForwardLeg, LegChange } from '../../workflows/contract';
import type { LedgerEntryDocument } from './ledger-entry.model';
import type { LedgerStore } from './ledger-store';

/** A transaction has at most a debit, a credit and an undo of each: more entries are not read. */
const MAX_ENTRIES_PER_TRANSACTION = 16;
/** The order in which a transaction applies its forward legs: a transfer debits, then credits. */
const FORWARD_SEQUENCE: Record<ForwardLeg, number> = { debit: 0, credit: 1 };

/**
 * The reversals that would undo what a transaction still has standing in the ledger: each forward
 * leg (debit, credit) not yet compensated or reversed, last applied first. Read from the ledger
 * itself, so an execution that did not apply the legs can undo them (a scan on FerretDB; rare).
 * The order is the transaction's own sequence, not the entries' `createdAt`, which each worker
 * stamps from its own clock.
 */
export async function reversalsOf(store: LedgerStore, transactionId: string): Promise<LegChange[]> {
  const entries = await store.entries
    .find({ transactionId: new Types.ObjectId(transactionId) })
    .limit(MAX_ENTRIES_PER_TRANSACTION)
    .lean<LedgerEntryDocument[]>()
    .exec();
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
