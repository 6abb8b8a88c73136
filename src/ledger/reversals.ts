import type { ForwardLeg, LegChange } from '../domain';
import type { LedgerEntryDocument } from './ledger-entry.model';

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
