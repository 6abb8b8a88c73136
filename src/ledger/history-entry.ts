import type { Leg, TransactionType } from '../domain';
import type { LedgerEntryDocument } from './ledger-entry.model';

/** A ledger entry as clients see it: in the history, the statement and the live updates alike. */
export interface HistoryEntry {
  transactionId: string | null;
  type: TransactionType | null;
  leg: Leg;
  amount: number;
  balanceAfter: number;
  version: number;
  counterpartyUserId: string | null;
  createdAt: Date;
}

export function toHistoryEntry(entry: LedgerEntryDocument): HistoryEntry {
  return {
    transactionId: entry.transactionId?.toHexString() ?? null,
    type: entry.transactionType,
    leg: entry.leg,
    amount: entry.amount,
    balanceAfter: entry.balanceAfter,
    version: entry.version,
    counterpartyUserId: entry.counterpartyUserId?.toHexString() ?? null,
    createdAt: entry.createdAt,
  };
}
