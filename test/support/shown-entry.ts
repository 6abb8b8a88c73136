import type { LedgerEntryDocument } from '../../src/ledger';

/** An entry as the API shows it (history, statements, live updates), built from the ledger's own document. */
export function shown(entry: LedgerEntryDocument) {
  return {
    transactionId: entry.transactionId?.toHexString() ?? null,
    type: entry.transactionType,
    leg: entry.leg,
    amount: entry.amount,
    balanceAfter: entry.balanceAfter,
    version: entry.version,
    counterpartyUserId: entry.counterpartyUserId?.toHexString() ?? null,
    createdAt: entry.createdAt.toISOString(),
  };
}
