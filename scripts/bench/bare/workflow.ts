// The bare-Temporal ceiling: a workflow of the wallet's shape (signal-with-start, then the local
// activities a transfer runs: open the record, debit, credit, announce), each doing nothing. What
// Temporal alone allows on this machine, with the service's worker options. `described`: the
// execution also carries what the wallet's does for the Temporal UI (started with its search
// attributes and memo by the client, as the bridge starts it; status and memo upserted at the
// announcement, as the wallet's workflow does), so the server's share of the description shows.
import { condition, proxyLocalActivities, setHandler, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import type { TransactionActivities } from '../../../activities';
import type { TransactionCompleted } from '../../../src/domain';
import { SEARCH_ATTRIBUTES, transactionCompletedSignal } from '../../../workflows/wallet-transaction/definitions';

const steps = proxyLocalActivities<TransactionActivities>({ startToCloseTimeout: '10s' });

export async function bareTransaction(input: { transactionId: string; described?: boolean }): Promise<void> {
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
  if (input.described) {
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.status, value: 'Completed' }]);
    upsertMemo({ outcome: { status: 'Completed' }, legs: ['debit -1 user (v0)', 'credit 1 user (v0)'] });
  }
}
