import { condition, patched, setHandler, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import {
  BUSINESS_FAILURE_TYPES,
  FAILURE_REASONS,
  type AppliedLeg,
  type BusinessFailureType,
  type LegChange,
  type TransactionCompleted,
  type UndoLeg,
} from '../src/domain/transaction';
import { PATCHES, reversalsOf } from './activity-stubs';
import {
  SEARCH_ATTRIBUTES,
  transactionCompletedSignal,
  transactionFailedSignal,
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

  const hasEvent = await condition(() => !!state.completedEvent || !!state.failedEvent, FIRST_EVENT_TIMEOUT);
  if (!hasEvent) return finish('closed without any transaction event');

  if (state.completedEvent && !state.failedEvent) {
    describeTransaction(state.completedEvent);
    const refusal = await applyTransaction(state.completedEvent);
    if (!state.failedEvent) await steps.announce(refusal ? { status: 'Failed', reason: refusal } : { status: 'Completed' });
  }

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
