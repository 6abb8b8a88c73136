import type { RecordStatus } from '../../workflows/contract';

/** The events of a transaction, as the record judges them. */
export type TransactionEventKind = 'completed' | 'failed' | 'rejected';

/**
 * Whether an event can still change a transaction whose record stands at `status`: a final
 * transaction is final for good, but one that ended `Completed` can still be rolled back by
 * `transaction.failed`. The bridge and the operators' commands decide by this.
 */
export function eventCanChange(event: TransactionEventKind, status: RecordStatus | undefined): boolean {
  if (status === undefined || status === 'Pending') return true;
  return event === 'failed' && status === 'Completed';
}
