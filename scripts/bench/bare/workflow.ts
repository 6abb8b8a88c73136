// The bare-Temporal ceiling: a workflow of the wallet's shape (signal-with-start, then the local
// activities a transfer runs: open the record, debit, credit, announce), each doing nothing. What
// Temporal alone allows on this machine, with the service's worker options. Other shapes measure
// what one part of that shape costs Temporal:
//   described  the execution also carries what the wallet's does for the Temporal UI (started with
//              its search attributes and memo by the client, as the bridge starts it; status and
//              memo upserted at the announcement, as the wallet's workflow does);
//   patched    the wallet's patch check too (a marker and the SDK's TemporalChangeVersion upsert);
//   two steps  the four local activities folded into two (the debit and the credit into the
//              opening), so the difference is what two local activities cost.
import { condition, patched, proxyLocalActivities, setHandler, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import type { TransactionActivities } from '../../../activities';
import type { TransactionCompleted } from '../../../src/domain';
import { SEARCH_ATTRIBUTES, transactionCompletedSignal } from '../../../workflows/wallet-transaction/definitions';

export type BareShape = 'plain' | 'described' | 'patched' | 'two steps';

const steps = proxyLocalActivities<TransactionActivities>({ startToCloseTimeout: '10s' });

export async function bareTransaction(input: { transactionId: string; shape: BareShape }): Promise<void> {
  let event: TransactionCompleted | undefined;
  setHandler(transactionCompletedSignal, (completed) => {
    event ??= completed;
  });
  await condition(() => event !== undefined);
  if (input.shape === 'patched') patched('bench-bare-patch');
  const transfer = event!;
  const { transactionId } = input;
  await steps.openRecord({ transactionId, type: transfer.type, terms: transfer, reason: null });
  if (input.shape !== 'two steps') {
    await steps.applyForwardLeg({ transactionId, transactionType: transfer.type, leg: 'debit', userId: '', amount: -1 });
    await steps.applyForwardLeg({ transactionId, transactionType: transfer.type, leg: 'credit', userId: '', amount: 1 });
  }
  await steps.announceOutcome(transactionId, 'first', { status: 'Completed' }, []);
  if (input.shape === 'described') {
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.status, value: 'Completed' }]);
    upsertMemo({ outcome: { status: 'Completed' }, legs: ['debit -1 user (v0)', 'credit 1 user (v0)'] });
  }
}
