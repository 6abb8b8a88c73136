import { eventCanChange, type FinalStatus, type RecordStatus, type TransactionEventKind } from '../domain';

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
