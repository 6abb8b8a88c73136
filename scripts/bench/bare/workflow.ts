// The bare-Temporal ceiling: a workflow of the wallet's shape (signal-with-start, then the one local
// activity a transfer runs: processed straight through), doing nothing. What Temporal alone allows
// on this machine, with the service's worker options. Other shapes measure what one part of a shape
// costs Temporal:
//   step by step  the shape before straight-through processing: four local activities (open the
//                 record, debit, credit, announce);
//   described     step by step, and the execution also carries what the wallet's does for the
//                 Temporal UI (started with its search attributes and memo by the client, as the
//                 bridge starts it; status and memo upserted at the announcement, as the wallet does);
//   patched       step by step with a patch check (a marker and the SDK's TemporalChangeVersion upsert);
//   two steps     step by step with the debit and the credit folded into the opening.
import { condition, patched, proxyLocalActivities, setHandler, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import type { TransactionActivities } from '../../../activities';
import type { TransactionCompleted } from '../../../src/domain';
import { SEARCH_ATTRIBUTES, transactionCompletedSignal } from '../../../workflows/wallet-transaction/definitions';

export type BareShape = 'straight through' | 'step by step' | 'described' | 'patched' | 'two steps';

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
  const opening = { transactionId, type: transfer.type, terms: transfer, reason: null };
  if (input.shape === 'straight through') {
    await steps.processStraightThrough(opening);
    return;
  }
  await steps.openRecord(opening);
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
