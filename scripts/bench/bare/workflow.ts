// The bare-Temporal ceiling: a workflow of the wallet's shape (signal-with-start, then the local
// activities a transfer runs: open the record, debit, credit, announce), each doing nothing. What
// Temporal alone allows on this machine, with the service's worker options.
import { condition, proxyLocalActivities, setHandler } from '@temporalio/workflow';
import { transactionCompletedSignal, type TransactionCompleted, type WalletActivities } from '../../../workflows/contract';

const steps = proxyLocalActivities<WalletActivities>({ startToCloseTimeout: '10s' });

export async function bareTransaction(input: { transactionId: string }): Promise<void> {
  let event: TransactionCompleted | undefined;
  setHandler(transactionCompletedSignal, (completed) => {
    event ??= completed;
  });
  await condition(() => event !== undefined);
  const transfer = event!;
  await steps.openTransaction({ transactionId: input.transactionId, type: transfer.type, userIds: [], amount: transfer.amount });
  await steps.applyLeg({ transactionId: input.transactionId, transactionType: transfer.type, leg: 'debit', userId: '', amount: -1 });
  await steps.applyLeg({ transactionId: input.transactionId, transactionType: transfer.type, leg: 'credit', userId: '', amount: 1 });
  await steps.publishFinalization({ transactionId: input.transactionId, status: 'Completed' }, []);
}
