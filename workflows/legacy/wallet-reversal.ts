import { upsertSearchAttributes } from '@temporalio/workflow';
import { openTransaction, reversalsOf } from '../activity-stubs';
import { SEARCH_ATTRIBUTES, type TransactionReversalInput, type TransactionState } from '../wallet-transaction/definitions';
import { TransactionSteps } from './transaction-steps';

// Frozen: the reversal workflow of executions started before transactions were decided once. No new
// execution runs it; remove it once none is open (docs/design.md: "Changing a workflow safely").

/**
 * `transaction.failed` for a transaction whose execution already closed as Completed: reverses,
 * from the ledger, every leg it still has standing (newest first, once each) and announces Failed.
 * Started by the bridge once per transaction (its id derives from the transactionId).
 */
export async function walletReversal(input: TransactionReversalInput): Promise<TransactionState> {
  const steps = new TransactionSteps(input.transactionId);
  steps.state.failedEvent = input;
  // An earlier reversal, whose execution is gone, may have rolled the transaction back already
  // (and died before announcing it).
  const recorded = await openTransaction({ transactionId: input.transactionId, type: input.type, userIds: [], amount: null });
  steps.state.recorded = recorded.status;
  if (recorded.status === 'Failed') {
    await steps.announceRecorded(recorded);
    steps.setStep('closed: the transaction record is already Failed');
    return steps.state;
  }
  steps.setStep('reading the ledger');
  const reversals = await reversalsOf(input.transactionId);
  if (reversals[0]) {
    upsertSearchAttributes([
      { key: SEARCH_ATTRIBUTES.transactionType, value: reversals[0].transactionType },
      { key: SEARCH_ATTRIBUTES.userIds, value: reversals.map((r) => r.userId) },
    ]);
  }
  for (const reversal of reversals) await steps.runUndo(reversal, 'a settled leg');
  await steps.announce({ status: 'Failed', reason: input.reason });
  steps.setStep('closed');
  return steps.state;
}
