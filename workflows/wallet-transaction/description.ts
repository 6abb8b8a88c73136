import { upsertMemo, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { partiesOf, type TransactionCompleted } from '../../src/domain';
import { SEARCH_ATTRIBUTES, TRANSACTION_MEMO_KEY } from './definitions';

// How an execution describes its transaction in the Temporal UI (search attributes and memo).

/**
 * Whether the execution was started described by its `transaction.completed` (the bridge sets the
 * search attributes and memo of the event it starts with). One started otherwise (by another
 * event, by hand) describes itself: deterministic either way, the start is in the history.
 */
export function describedAtStart(): boolean {
  const started = workflowInfo().memo?.[TRANSACTION_MEMO_KEY];
  return typeof started === 'object' && started !== null && 'amount' in started;
}

/** The transaction's type, parties and terms, for the Temporal UI. */
export function describe(terms: TransactionCompleted): void {
  upsertSearchAttributes([
    { key: SEARCH_ATTRIBUTES.transactionType, value: terms.type },
    { key: SEARCH_ATTRIBUTES.userIds, value: partiesOf(terms) },
  ]);
  upsertMemo({ [TRANSACTION_MEMO_KEY]: terms });
}
