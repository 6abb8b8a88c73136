// The bare-Temporal ceiling: a workflow of the wallet's shape (signal-with-start, then the local
// activities a transfer runs: open the record, debit, credit, announce), each doing nothing. What
// Temporal alone allows on this machine, with the service's worker options.
import { condition, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import type { TransactionActivities } from '../../../activities';
import type { TransactionCompleted } from '../../../src/domain';
import { transactionCompletedSignal } from '../../../workflows/wallet-transaction/definitions';

const steps = proxyLocalActivities<TransactionActivities>({ startToCloseTimeout: '10s' });

export async function bareTransaction(input: { transactionId: string }): Promise<void> {
  let event: TransactionCompleted | undefined;
  setHandler(transactionCompletedSignal, (completed) => {
    event ??= completed;
  });
  await condition(() => event !== undefined);
  const transfer = event!;
  await steps.openRecord({ transactionId: input.transactionId, type: transfer.type, terms: transfer, reason: null });
  await steps.applyForwardLeg({ transactionId: input.transactionId, transactionType: transfer.type, leg: 'debit', userId: '', amount: -1 });
  await steps.applyForwardLeg({ transactionId: input.transactionId, transactionType: transfer.type, leg: 'credit', userId: '', amount: 1 });
  await steps.announceOutcome(input.transactionId, 'first', { status: 'Completed' }, []);
}
