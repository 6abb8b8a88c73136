import { ActivityFailure, ApplicationFailure, condition, log, patched, setHandler, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import {
  BUSINESS_FAILURE_TYPES,
  FAILURE_REASONS,
  type AppliedLeg,
  type BusinessFailureType,
  type LegChange,
  type TransactionCompleted,
  type UndoLeg,
} from '../src/domain/transaction';
import {
  operatorRetrySignal,
  SEARCH_ATTRIBUTES,
  transactionCompletedSignal,
  transactionFailedSignal,
  transactionStateQuery,
  type TransactionState,
  type TransactionStatus,
  type TransactionWorkflowInput,
} from './definitions';
import { applyLeg, PATCHES, publishFinalization } from './activity-stubs';

/** A workflow started without either event (by hand, say) gives up after this long. */
const FIRST_EVENT_TIMEOUT = '1 hour';
/** How often a step waiting for an operator tries again by itself. */
const OPERATOR_RECHECK_INTERVAL = '1 hour';

type LegResult = { applied: AppliedLeg } | { refused: BusinessFailureType };

/**
 * One transaction, from its first event to its final announcement. `transaction.completed` applies
 * the legs (a transfer debits the sender, then credits the recipient; a credit that cannot land is
 * compensated). `transaction.failed`, whenever it comes, reverses every leg still applied and the
 * transaction ends Failed. A Completed transaction stays open for the late-failure window.
 */
export async function walletTransaction(input: TransactionWorkflowInput): Promise<TransactionState> {
  const state: TransactionState = {
    transactionId: input.transactionId,
    status: 'Pending',
    step: 'awaiting transaction event',
    legs: [],
    finalizations: [],
  };
  /** Forward legs applied and not yet undone, in the order they were applied. */
  const standing: AppliedLeg[] = [];
  let operatorRetryRequested = false;

  setHandler(transactionCompletedSignal, (event) => {
    if (event.transactionId === input.transactionId) state.completedEvent ??= event;
  });
  setHandler(transactionFailedSignal, (event) => {
    if (event.transactionId === input.transactionId) state.failedEvent ??= event;
  });
  setHandler(operatorRetrySignal, () => {
    operatorRetryRequested = true;
  });
  setHandler(transactionStateQuery, () => state);

  const hasEvent = await condition(() => !!state.completedEvent || !!state.failedEvent, FIRST_EVENT_TIMEOUT);
  if (!hasEvent) return finish('closed without any transaction event');

  if (state.completedEvent && !state.failedEvent) {
    describeTransaction(state.completedEvent);
    const refusal = await applyTransaction(state.completedEvent);
    if (!state.failedEvent) await announce(refusal ? { status: 'Failed', reason: refusal } : { status: 'Completed' });
  }

  if (!state.failedEvent && lastAnnounced() === 'Completed') {
    setStep('completed; open for a late transaction.failed');
    await condition(() => !!state.failedEvent, input.lateFailureWindowSeconds * 1000);
  }

  if (state.failedEvent) {
    await undoStandingLegs('reversal');
    if (lastAnnounced() !== 'Failed') await announce({ status: 'Failed', reason: state.failedEvent.reason });
  }
  return finish('closed');

  /** Applies the forward legs; returns the reason of a business refusal, if any. */
  async function applyTransaction(event: TransactionCompleted): Promise<string | undefined> {
    if (event.type === 'TopUp') {
      setStep('crediting wallet');
      const credit = await runLeg(forwardLeg(event, 'credit', event.userId, event.amount));
      return 'refused' in credit ? refusalReason(credit.refused, 'owner') : undefined;
    }
    setStep('debiting sender');
    const debit = await runLeg(forwardLeg(event, 'debit', event.fromUserId, -event.amount, event.toUserId));
    if ('refused' in debit) return refusalReason(debit.refused, 'sender');
    // A transaction.failed that arrived meanwhile stops the transfer here; the reversal follows.
    if (state.failedEvent) return undefined;
    setStep('crediting recipient');
    const credit = await runLeg(forwardLeg(event, 'credit', event.toUserId, event.amount, event.fromUserId));
    if ('refused' in credit) {
      await undoStandingLegs('compensation');
      return refusalReason(credit.refused, 'recipient');
    }
    return undefined;
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

  /** Undoes every standing forward leg, newest first, as compensation or reversal entries. */
  async function undoStandingLegs(undo: UndoLeg): Promise<void> {
    const event = state.completedEvent;
    while (event && standing.length > 0) {
      const leg = standing[standing.length - 1]!;
      setStep(`${undo} of ${leg.leg} for user ${leg.userId}`);
      const counterparty = event.type === 'Transfer' ? (leg.userId === event.fromUserId ? event.toUserId : event.fromUserId) : undefined;
      const change: LegChange = {
        transactionId: leg.transactionId,
        transactionType: event.type,
        leg: undo,
        userId: leg.userId,
        amount: -leg.amount,
        counterpartyUserId: counterparty,
      };
      const result = await runLeg(change);
      if ('refused' in result) {
        // Only a reversal of a credit can be refused (the recipient spent the money): a human decides.
        await waitForOperator(`${undo} of ${leg.leg} refused (${result.refused}) for user ${leg.userId}`);
        continue;
      }
      standing.pop();
    }
  }

  /** Runs a ledger activity until it applies or is refused for a business reason. */
  async function runLeg(change: LegChange): Promise<LegResult> {
    for (;;) {
      try {
        const applied = await applyLeg(change);
        state.legs.push(applied);
        if (change.leg === 'debit' || change.leg === 'credit') standing.push(applied);
        return { applied };
      } catch (error) {
        const refused = businessFailureOf(error);
        if (refused) return { refused };
        await waitForOperator(`${change.leg} for user ${change.userId} failed: ${messageOf(error)}`);
      }
    }
  }

  async function announce(finalized: { status: 'Completed' | 'Failed'; reason?: string }): Promise<void> {
    setStep(`announcing ${finalized.status}`);
    await publishFinalization({ transactionId: input.transactionId, ...finalized });
    state.finalizations.push(finalized);
    setStatus(finalized.status);
    // Added after the first release (executions recorded before it replay without it): the outcome
    // and the legs, at a glance in the Temporal UI's memo.
    if (patched(PATCHES.outcomeMemo)) {
      upsertMemo({ outcome: finalized, legs: state.legs.map((leg) => `${leg.leg} ${leg.amount} user ${leg.userId} (v${leg.version})`) });
    }
  }

  function lastAnnounced() {
    return state.finalizations[state.finalizations.length - 1]?.status;
  }

  async function waitForOperator(attention: string): Promise<void> {
    const previous = state.status;
    state.attention = attention;
    setStatus('NeedsOperator');
    log.warn('transaction needs an operator', { transactionId: input.transactionId, attention });
    operatorRetryRequested = false;
    await condition(() => operatorRetryRequested, OPERATOR_RECHECK_INTERVAL);
    state.attention = undefined;
    setStatus(previous);
  }

  function describeTransaction(event: TransactionCompleted): void {
    const userIds = event.type === 'TopUp' ? [event.userId] : [event.fromUserId, event.toUserId];
    upsertSearchAttributes([
      { key: SEARCH_ATTRIBUTES.transactionType, value: event.type },
      { key: SEARCH_ATTRIBUTES.userIds, value: userIds },
    ]);
    upsertMemo({ transaction: event });
  }

  function setStatus(status: TransactionStatus): void {
    state.status = status;
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.status, value: status }]);
  }

  function setStep(step: string): void {
    state.step = step;
  }

  function finish(step: string): TransactionState {
    setStep(step);
    return state;
  }
}

function businessFailureOf(error: unknown): BusinessFailureType | undefined {
  if (error instanceof ActivityFailure && error.cause instanceof ApplicationFailure) {
    const type = error.cause.type;
    return Object.values(BUSINESS_FAILURE_TYPES).find((known) => known === type);
  }
  return undefined;
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

function messageOf(error: unknown): string {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  return cause instanceof Error ? cause.message : String(cause);
}
