import type { FinalStatus, RecordStatus } from '../../workflows/contract';

/** The events of a transaction, as the record judges them. */
export type TransactionEventKind = 'completed' | 'failed' | 'rejected';

/**
 * Whether an event can still change a transaction whose record stands at `status`: a final
 * transaction is final for good, but one that ended `Completed` can still be rolled back by
 * `transaction.failed`.
 */
export function eventCanChange(event: TransactionEventKind, status: RecordStatus | undefined): boolean {
  if (status === undefined || status === 'Pending') return true;
  return event === 'failed' && status === 'Completed';
}

/**
 * Whether an event can change nothing at all, neither money nor what the platform is told: the
 * record is final for it and its decision was announced. A decision whose run died before announcing
 * it is not settled: a run must still announce it. The bridge and the operators' commands decide by this.
 */
export async function settledFor(
  event: TransactionEventKind,
  transactionId: string,
  records: { statusOf(transactionId: string): Promise<RecordStatus> },
  announcements: { wasDelivered(finalized: { transactionId: string; status: FinalStatus }): Promise<boolean> },
): Promise<boolean> {
  const status = await records.statusOf(transactionId);
  if (status === 'Pending' || eventCanChange(event, status)) return false;
  return announcements.wasDelivered({ transactionId, status });
}
