import type { LedgerEntryDocument, VoidedLegDocument } from '../ledger';
import type { TransactionRecordDocument } from '../transaction-record/transaction-records';
import { transactionReversalWorkflowId, transactionWorkflowId } from '../../workflows/wallet-transaction/definitions';
import { describeExecution, type ExecutionReport, type OperationsContext } from './operations-context';

export interface TransactionReport {
  transactionId: string;
  /** The durable transaction record: its outcomes and legs, whatever Temporal still remembers. */
  record: TransactionRecordDocument | null;
  /** The latest run of the transaction's execution (`wallet-transaction-…`). */
  workflow: ExecutionReport | null;
  /** A `wallet-reversal-…` execution, which rolled transactions back before they were decided once. */
  reversal: ExecutionReport | null;
  ledgerEntries: Array<Pick<LedgerEntryDocument, 'leg' | 'amount' | 'balanceAfter' | 'version'> & { userId: string }>;
  /** Forward legs its Failed decision voided: they can never be applied. */
  voidedLegs: Array<{ leg: string; userId: string }>;
}

/** Everything known of a transaction: its executions, where they stand, its ledger entries. */
export async function showTransaction(ctx: OperationsContext, transactionId: string): Promise<TransactionReport> {
  const [workflow, reversal, record] = await Promise.all([
    describeExecution(ctx, transactionWorkflowId(transactionId)),
    describeExecution(ctx, transactionReversalWorkflowId(transactionId)),
    ctx.stores.records.find(transactionId),
  ]);
  // Read by _id: the legs where their locations say, the voids where the record's parties would have them.
  const [entries, voided] = await Promise.all([
    ctx.stores.ledger.entriesLocatedFor(transactionId),
    Promise.all(forwardLegsOf(record).map(({ userId, leg }) => ctx.stores.ledger.voidedLeg(transactionId, userId, leg))),
  ]);
  entries.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  return {
    transactionId,
    record,
    workflow,
    reversal,
    voidedLegs: voided.filter((v): v is VoidedLegDocument => v !== null).map((v) => ({ leg: v.leg, userId: v.userId.toHexString() })),
    ledgerEntries: entries.map((e) => ({
      leg: e.leg,
      userId: e.userId.toHexString(),
      amount: e.amount,
      balanceAfter: e.balanceAfter,
      version: e.version,
    })),
  };
}

/** Where a transaction's forward legs go, by its record's parties (a transfer's sender first). */
function forwardLegsOf(record: TransactionRecordDocument | null): Array<{ userId: string; leg: 'debit' | 'credit' }> {
  if (record?.type === 'TopUp' && record.userIds.length === 1) return [{ userId: record.userIds[0], leg: 'credit' }];
  if (record?.type === 'Transfer' && record.userIds.length === 2) {
    return [
      { userId: record.userIds[0], leg: 'debit' },
      { userId: record.userIds[1], leg: 'credit' },
    ];
  }
  return [];
}
