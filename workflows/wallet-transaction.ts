import { condition, patched, setHandler, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import {
  BUSINESS_FAILURE_TYPES,
  FAILURE_REASONS,
  type AppliedLeg,
  type BusinessFailureType,
  type LegChange,
  type TransactionCompleted,
  type TransactionOpening,
  type UndoLeg,
} from '../src/domain/transaction';
import { openTransaction, PATCHES, reversalsOf } from './activity-stubs';
import {
  SEARCH_ATTRIBUTES,
  transactionCompletedSignal,
  transactionFailedSignal,
  transactionRejectedSignal,
  type TransactionState,
  type TransactionWorkflowInput,
} from './definitions';
import { TransactionSteps } from './transaction-steps';

/** A workflow started without either event (by hand, say) gives up after this long. */
const FIRST_EVENT_TIMEOUT = '1 hour';
/** The late-failure window of executions started before `close-when-settled`. */
const LEGACY_LATE_FAILURE_WINDOW_SECONDS = 3600;

/**
 * One transaction, from its first event to its final announcement. `transaction.completed` applies
 * the legs (a transfer debits the sender, then credits the recipient; a credit that cannot land is
 * compensated). `transaction.failed` before or while the legs run reverses every leg applied, and the
 * transaction ends Failed. Once settled the execution closes; a `transaction.failed` arriving later
 * is handled by a `walletReversal` execution.
 */
export async function walletTransaction(input: TransactionWorkflowInput): Promise<TransactionState> {
  const steps = new TransactionSteps(input.transactionId);
  const state = steps.state;
  state.step = 'awaiting transaction event';
  /** Forward legs applied and not yet undone, in the order they were applied. */
  const standing: AppliedLeg[] = [];

  setHandler(transactionCompletedSignal, (event) => {
    if (event.transactionId === input.transactionId) state.completedEvent ??= event;
  });
  setHandler(transactionFailedSignal, (event) => {
    if (event.transactionId === input.transactionId) state.failedEvent ??= event;
  });
  setHandler(transactionRejectedSignal, (event) => {
    if (event.transactionId === input.transactionId) state.rejectedEvent ??= event;
  });

  const hasEvent = await condition(() => !!state.completedEvent || !!state.failedEvent || !!state.rejectedEvent, FIRST_EVENT_TIMEOUT);
  if (!hasEvent) return finish('closed without any transaction event');

  // The transaction record outlives this execution: a transaction it holds as final moves no more
  // money, except a Completed one that transaction.failed now rolls back.
  if (patched(PATCHES.transactionRecord)) {
    state.recorded = (await openTransaction(openingOf(state))).status;
    if (state.recorded === 'Failed' || (state.recorded === 'Completed' && !state.failedEvent)) {
      return finish(`closed: the transaction record is already ${state.recorded}`);
    }
  }

  // A Completed record was settled by an earlier execution, gone since: only a rollback remains.
  if (state.recorded !== 'Completed') await settleFirstEvent();

  // Executions from before `close-when-settled` stay open a while for a late transaction.failed.
  if (!state.failedEvent && steps.lastAnnounced() === 'Completed' && !patched(PATCHES.closeWhenSettled)) {
    steps.setStep('completed; open for a late transaction.failed');
    await condition(() => !!state.failedEvent, (input.lateFailureWindowSeconds ?? LEGACY_LATE_FAILURE_WINDOW_SECONDS) * 1000);
  }

  if (state.failedEvent) {
    // A workflow task the server refused (a signal arrived while it completed) is run again from
    // its history, where the legs its local activities applied are missing: ask the ledger.
    if (patched(PATCHES.reverseFromLedger)) await reverseWhatTheLedgerHolds();
    else await undoStandingLegs('reversal');
    if (steps.lastAnnounced() !== 'Failed') await steps.announce({ status: 'Failed', reason: state.failedEvent.reason });
  }
  return finish('closed');

  /** Applies a completed transaction, or refuses a rejected one, unless transaction.failed came first. */
  async function settleFirstEvent(): Promise<void> {
    if (state.failedEvent) return;
    if (state.completedEvent) {
      describeTransaction(state.completedEvent);
      const refusal = await applyTransaction(state.completedEvent);
      if (!state.failedEvent) await steps.announce(refusal ? { status: 'Failed', reason: refusal } : { status: 'Completed' });
    } else if (state.rejectedEvent) {
      await steps.announce({ status: 'Failed', reason: state.rejectedEvent.reason });
    }
  }

  /** Applies the forward legs; returns the reason of a business refusal, if any. */
  async function applyTransaction(event: TransactionCompleted): Promise<string | undefined> {
    if (event.type === 'TopUp') {
      steps.setStep('crediting wallet');
      const credit = await forward(forwardLeg(event, 'credit', event.userId, event.amount));
      return 'refused' in credit ? refusalReason(credit.refused, 'owner') : undefined;
    }
    steps.setStep('debiting sender');
    const debit = await forward(forwardLeg(event, 'debit', event.fromUserId, -event.amount, event.toUserId));
    if ('refused' in debit) return refusalReason(debit.refused, 'sender');
    // A transaction.failed that arrived meanwhile stops the transfer here; the reversal follows.
    if (state.failedEvent) return undefined;
    steps.setStep('crediting recipient');
    const credit = await forward(forwardLeg(event, 'credit', event.toUserId, event.amount, event.fromUserId));
    if ('refused' in credit) {
      await undoStandingLegs('compensation');
      return refusalReason(credit.refused, 'recipient');
    }
    return undefined;
  }

  async function forward(change: LegChange) {
    const result = await steps.runLeg(change);
    if ('applied' in result) standing.push(result.applied);
    return result;
  }

  function forwardLeg(
    event: TransactionCompleted,
    leg: 'debit' | 'credit',
    userId: string,
    amount: number,
    counterpartyUserId?: string,
  ): LegChange {
    return { transactionId: event.transactionId, transactionType: event.type, leg, userId, amount, counterpartyUserId };
  }

  async function reverseWhatTheLedgerHolds(): Promise<void> {
    steps.setStep('reading the ledger');
    for (const reversal of await reversalsOf(input.transactionId)) await steps.runUndo(reversal, 'a standing leg');
    standing.length = 0;
  }

  /** Undoes every standing forward leg, newest first, as compensation or reversal entries. */
  async function undoStandingLegs(undo: UndoLeg): Promise<void> {
    const event = state.completedEvent;
    while (event && standing.length > 0) {
      const leg = standing[standing.length - 1]!;
      const counterparty = event.type === 'Transfer' ? (leg.userId === event.fromUserId ? event.toUserId : event.fromUserId) : undefined;
      await steps.runUndo(
        { transactionId: leg.transactionId, transactionType: event.type, leg: undo, userId: leg.userId, amount: -leg.amount, counterpartyUserId: counterparty },
        leg.leg,
      );
      standing.pop();
    }
  }

  function describeTransaction(event: TransactionCompleted): void {
    const userIds = event.type === 'TopUp' ? [event.userId] : [event.fromUserId, event.toUserId];
    upsertSearchAttributes([
      { key: SEARCH_ATTRIBUTES.transactionType, value: event.type },
      { key: SEARCH_ATTRIBUTES.userIds, value: userIds },
    ]);
    upsertMemo({ transaction: event });
  }

  function finish(step: string): TransactionState {
    steps.setStep(step);
    return state;
  }
}

/** The transaction as its first event describes it, for the transaction record. */
function openingOf(state: TransactionState): TransactionOpening {
  const { completedEvent: completed, transactionId } = state;
  if (!completed) return { transactionId, type: state.failedEvent?.type ?? null, userIds: [], amount: null };
  const userIds = completed.type === 'TopUp' ? [completed.userId] : [completed.fromUserId, completed.toUserId];
  return { transactionId, type: completed.type, userIds, amount: completed.amount };
}

function refusalReason(refused: BusinessFailureType, party: 'owner' | 'sender' | 'recipient'): string {
  switch (refused) {
    case BUSINESS_FAILURE_TYPES.insufficientBalance:
      return FAILURE_REASONS.insufficientBalance;
    case BUSINESS_FAILURE_TYPES.balanceLimitExceeded:
      return FAILURE_REASONS.balanceLimitExceeded;
    case BUSINESS_FAILURE_TYPES.walletNotFound:
      if (party === 'owner') return FAILURE_REASONS.walletNotFound;
      return party === 'sender' ? FAILURE_REASONS.senderWalletNotFound : FAILURE_REASONS.recipientWalletNotFound;
  }
}
