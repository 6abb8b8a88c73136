import { condition, setHandler } from '@temporalio/workflow';
import { openTransaction, reversalsOf } from '../activity-stubs';
import type { RecordedTransaction, TransactionOpening } from '../../activities';
import {
  BUSINESS_FAILURE_TYPES,
  FAILURE_REASONS,
  partiesOf,
  type AppliedLeg,
  type BusinessFailureType,
  type LegChange,
  type TopUpCompleted,
  type TransactionCompleted,
  type TransferCompleted,
} from '../../src/domain';
import {
  transactionCompletedSignal,
  transactionFailedSignal,
  transactionRejectedSignal,
  type TransactionState,
  type TransactionWorkflowInput,
} from '../wallet-transaction/definitions';
import { describe, describedAtStart } from '../wallet-transaction/description';
import { TransactionSteps, type LegResult } from './transaction-steps';

/** A workflow started without either event (by hand, say) gives up after this long. */
const FIRST_EVENT_TIMEOUT = '1 hour';

// Frozen: the transaction workflow of executions started before transactions were decided once
// (they have no `transaction-decided-once` patch marker). They replay, and finish, with these exact
// steps; remove this folder once none is open (docs/design.md: "Changing a workflow safely").

/**
 * One transaction, from its first event to its final announcement. `transaction.completed` applies
 * the legs (a transfer debits the sender, then credits the recipient; a credit that cannot land is
 * compensated). `transaction.failed` before or while the legs run reverses every leg applied, and the
 * transaction ends Failed. Once settled the execution closes; a `transaction.failed` arriving later
 * is handled by a `walletReversal` execution.
 */
export async function legacyWalletTransaction(input: TransactionWorkflowInput): Promise<TransactionState> {
  const run = new TransactionRun(input.transactionId);
  if (!(await run.firstEvent())) return run.finish('closed without any transaction event');
  // The transaction record outlives any execution: what it holds as final moves no more money,
  // except a Completed transaction that transaction.failed now rolls back.
  const recorded = await run.openRecord();
  if (recorded.status === 'Failed' || (recorded.status === 'Completed' && !run.state.failedEvent)) {
    // An execution that recorded the outcome may have died before announcing it.
    await run.steps.announceRecorded(recorded);
    return run.finish(`closed: the transaction record is already ${recorded.status}`);
  }
  if (recorded.status === 'Pending') await run.settleFirstEvent();
  if (run.state.failedEvent) await run.rollBack(run.state.failedEvent.reason);
  return run.finish('closed');
}

/** One execution of a transaction: its events, its steps, and the legs it has standing. */
class TransactionRun {
  readonly steps: TransactionSteps;
  /** Forward legs applied and not yet undone, in the order they were applied. */
  private readonly standing: AppliedLeg[] = [];

  constructor(private readonly transactionId: string) {
    this.steps = new TransactionSteps(transactionId);
    this.state.step = 'awaiting transaction event';
    const own = (event: { transactionId: string }) => event.transactionId === transactionId;
    setHandler(transactionCompletedSignal, (event) => {
      if (own(event)) this.state.completedEvent ??= event;
    });
    setHandler(transactionFailedSignal, (event) => {
      if (own(event)) this.state.failedEvent ??= event;
    });
    setHandler(transactionRejectedSignal, (event) => {
      if (own(event)) this.state.rejectedEvent ??= event;
    });
  }

  get state(): TransactionState {
    return this.steps.state;
  }

  /** Waits for the transaction's first event; false when none came in time. */
  firstEvent(): Promise<boolean> {
    return condition(() => !!this.state.completedEvent || !!this.state.failedEvent || !!this.state.rejectedEvent, FIRST_EVENT_TIMEOUT);
  }

  async openRecord(): Promise<RecordedTransaction> {
    const recorded = await openTransaction(openingOf(this.state));
    this.state.recorded = recorded.status;
    return recorded;
  }

  /** Applies a completed transaction, or refuses a rejected one, unless transaction.failed came first. */
  async settleFirstEvent(): Promise<void> {
    const { completedEvent, rejectedEvent } = this.state;
    if (this.state.failedEvent) return;
    if (completedEvent) {
      if (!describedAtStart()) describe(completedEvent);
      const refusal = completedEvent.type === 'TopUp' ? await this.topUp(completedEvent) : await this.transfer(completedEvent);
      if (!this.state.failedEvent) await this.steps.announce(refusal ? { status: 'Failed', reason: refusal } : { status: 'Completed' });
    } else if (rejectedEvent) {
      await this.steps.announce({ status: 'Failed', reason: rejectedEvent.reason });
    }
  }

  /**
   * Reverses what the ledger holds standing for the transaction and announces Failed, unless this
   * execution already did. Read from the ledger, not from memory: a workflow task the server refused
   * (a signal arrived while it completed) runs again from its history, without the legs its local
   * activities applied.
   */
  async rollBack(reason: string): Promise<void> {
    this.steps.setStep('reading the ledger');
    for (const reversal of await reversalsOf(this.transactionId)) await this.steps.runUndo(reversal, 'a standing leg');
    this.standing.length = 0;
    if (this.steps.lastAnnounced() !== 'Failed') await this.steps.announce({ status: 'Failed', reason });
  }

  finish(step: string): TransactionState {
    this.steps.setStep(step);
    return this.state;
  }

  /** Credits the wallet; returns the reason of a business refusal, if any. */
  private async topUp(event: TopUpCompleted): Promise<string | undefined> {
    this.steps.setStep('crediting wallet');
    const credit = await this.forward(legOf(event, 'credit', event.userId, event.amount));
    return 'refused' in credit ? refusalReason(credit.refused, 'owner') : undefined;
  }

  /** Debits the sender, then credits the recipient; returns the reason of a business refusal, if any. */
  private async transfer(event: TransferCompleted): Promise<string | undefined> {
    this.steps.setStep('debiting sender');
    const debit = await this.forward(legOf(event, 'debit', event.fromUserId, -event.amount, event.toUserId));
    if ('refused' in debit) return refusalReason(debit.refused, 'sender');
    // A transaction.failed that arrived meanwhile stops the transfer here; the rollback follows.
    if (this.state.failedEvent) return undefined;
    this.steps.setStep('crediting recipient');
    const credit = await this.forward(legOf(event, 'credit', event.toUserId, event.amount, event.fromUserId));
    if (!('refused' in credit)) return undefined;
    await this.compensate(event);
    return refusalReason(credit.refused, 'recipient');
  }

  private async forward(change: LegChange): Promise<LegResult> {
    const result = await this.steps.runLeg(change);
    if ('applied' in result) this.standing.push(result.applied);
    return result;
  }

  /** Undoes every standing forward leg, last applied first: the saga's compensation. */
  private async compensate(event: TransferCompleted): Promise<void> {
    for (let leg = this.standing.pop(); leg; leg = this.standing.pop()) {
      const counterparty = leg.userId === event.fromUserId ? event.toUserId : event.fromUserId;
      const undo = legOf(event, 'compensation', leg.userId, -leg.amount, counterparty);
      await this.steps.runUndo(undo, leg.leg);
    }
  }
}

function legOf(event: TransactionCompleted, leg: LegChange['leg'], userId: string, amount: number, counterpartyUserId?: string): LegChange {
  return { transactionId: event.transactionId, transactionType: event.type, leg, userId, amount, counterpartyUserId };
}

/** The transaction as its first event describes it, for the transaction record. */
function openingOf(state: TransactionState): TransactionOpening {
  const { completedEvent: completed, transactionId } = state;
  if (!completed) return { transactionId, type: state.failedEvent?.type ?? null, userIds: [], amount: null };
  return { transactionId, type: completed.type, userIds: partiesOf(completed), amount: completed.amount };
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
