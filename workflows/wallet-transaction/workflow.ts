import {
  ActivityFailure,
  condition,
  continueAsNew,
  log,
  patched,
  setHandler,
  sleep,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { applicationFailureOf, messageOf, transactionStepsWithin } from '../activity-stubs';
import { describe, describedAtStart } from './description';
import type { TransactionActivities } from '../../activities';
import type { AppliedLeg, TransactionDecision } from '../../src/domain';
import {
  operatorRetrySignal,
  SEARCH_ATTRIBUTES,
  transactionCompletedSignal,
  transactionFailedSignal,
  transactionRejectedSignal,
  transactionStateQuery,
  type TransactionState,
  type TransactionStatus,
  type TransactionWorkflowInput,
} from './definitions';
import { legacyWalletTransaction } from '../legacy/wallet-transaction';
import { runTransaction, TransactionMachine, type TransactionStep, type TransactionStepExecutor } from './machine';

/** Executions started before it replay the steps they started with (workflows/legacy/). */
export const DECIDED_ONCE_PATCH = 'transaction-decided-once';
/** Executions started before it open, apply and announce one step at a time. */
export const STRAIGHT_THROUGH_PATCH = 'transaction-straight-through';
/** Executions started before it start a timer for their first event even when they start with one. */
export const EVENT_AT_START_PATCH = 'transaction-event-at-start';
/** A workflow started without any event (by hand, say) gives up after this long; the next event starts another. */
const FIRST_EVENT_TIMEOUT = '1 hour';
/** How often a step waiting for an operator tries again by itself. */
const OPERATOR_RECHECK_INTERVAL = '1 hour';
/**
 * A wait for an operator continues as new past this many history events (about ten days of hourly
 * rechecks), far below Temporal's limit of 51,200, past which it would terminate the execution.
 */
export const OPERATOR_WAIT_HISTORY_LIMIT = 2_000;

/**
 * One run of one transaction: its events come by signal, and the transaction's state machine
 * (machine.ts) says each step, which runs as an activity. Any run, the first or one
 * started after a crash, a terminate or a reset, follows what the record holds, so every run of a
 * transaction reaches the same end. A step that cannot be done automatically (a reversal the
 * recipient cannot pay, a broken ledger invariant, a fault that outlasted its retries) waits as
 * NeedsOperator for the `operatorRetry` signal and runs again.
 */
export async function walletTransaction(input: TransactionWorkflowInput): Promise<TransactionState> {
  // Newest first, so that an execution started now records one marker, not several.
  const eventAtStart = patched(EVENT_AT_START_PATCH);
  const straightThrough = eventAtStart || patched(STRAIGHT_THROUGH_PATCH);
  if (!straightThrough && !patched(DECIDED_ONCE_PATCH)) return legacyWalletTransaction(input);
  const run = new TransactionRun(input, straightThrough);
  // The timed wait costs the sandbox a cancellation scope, a timer and a race, every promise of which
  // the SDK's stack-trace hook captures; a run the bridge started carries its event, so skips it.
  const hasEventNow = eventAtStart && run.machine.hasEvent;
  if (!hasEventNow && !(await condition(() => run.machine.hasEvent, FIRST_EVENT_TIMEOUT))) {
    return run.finish('closed without any transaction event');
  }
  await runTransaction(run.machine, run.executor, (step) => run.starting(step));
  return run.finish('closed');
}

/** The Temporal side of a run: signals, the query, the operator's retry, and how each step runs. */
class TransactionRun {
  readonly machine: TransactionMachine;
  private status: TransactionStatus = 'Pending';
  private step = 'awaiting transaction event';
  private attention: string | undefined;
  private operatorRetryRequested = false;
  private described = describedAtStart();

  private readonly steps: TransactionActivities;

  constructor(
    private readonly input: TransactionWorkflowInput,
    straightThrough: boolean,
  ) {
    const machine = (this.machine = new TransactionMachine(input.transactionId, straightThrough));
    const { completed, failed, rejected } = input.received ?? {};
    if (completed) machine.receive({ kind: 'completed', event: completed });
    if (failed) machine.receive({ kind: 'failed', event: failed });
    if (rejected) machine.receive({ kind: 'rejected', event: rejected });
    this.steps = transactionStepsWithin(input.stepTimeoutMs);
    setHandler(transactionCompletedSignal, (event) => machine.receive({ kind: 'completed', event }));
    setHandler(transactionFailedSignal, (event) => machine.receive({ kind: 'failed', event }));
    setHandler(transactionRejectedSignal, (event) => machine.receive({ kind: 'rejected', event }));
    setHandler(operatorRetrySignal, () => {
      this.operatorRetryRequested = true;
    });
    setHandler(transactionStateQuery, () => this.state());
  }

  readonly executor: TransactionStepExecutor = {
    open: (opening) => this.untilDone(() => this.steps.openRecord(opening)),
    straightThrough: async (opening) => {
      const outcome = await this.untilDone(() => this.steps.processStraightThrough(opening));
      if (outcome.announced?.kind === 'announced') {
        this.announced(
          { status: 'Completed' },
          outcome.legs.flatMap((found) => (found.kind === 'applied' ? [found.leg] : [])),
        );
      }
      return outcome;
    },
    adopt: (terms) => this.untilDone(() => this.steps.adoptLedger(terms)),
    apply: (change) => this.untilDone(() => this.steps.applyForwardLeg(change)),
    decide: (position, decision, legs) =>
      this.untilDone(() => this.steps.recordDecision(this.machine.transactionId, position, decision, legs)),
    void: (change) => this.untilDone(() => this.steps.voidLeg(change)),
    undo: async (forward, undo) => {
      for (;;) {
        const outcome = await this.untilDone(() => this.steps.undoLeg(forward, undo));
        if (outcome.kind === 'applied') return outcome.leg;
        // Only the undo of a credit can be refused (the recipient spent the money): a human decides.
        await this.waitForOperator(`${undo} of the ${forward.leg} of user ${forward.userId} refused (${outcome.refusal})`);
      }
    },
    wait: async (until) => {
      const left = new Date(until).getTime() - Date.now();
      if (left > 0) await sleep(left);
    },
    announce: async (position, decision, legs) => {
      const outcome = await this.untilDone(() => this.steps.announceOutcome(this.machine.transactionId, position, decision, legs));
      if (outcome.kind === 'announced') this.announced(decision, legs);
      return outcome;
    },
  };

  /** Called before each step: what the UI and the query show, and the transaction described once its terms are known. */
  starting(step: TransactionStep): void {
    this.step = describeStep(step);
    const terms = this.machine.record?.terms;
    if (terms && !this.described) {
      this.described = true;
      describe(terms);
    }
  }

  finish(step: string): TransactionState {
    this.step = step;
    return this.state();
  }

  /** Runs a step until it answers; a failure no retry can mend waits for an operator, then the step runs again. */
  private async untilDone<T>(attempt: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        return await attempt();
      } catch (error) {
        if (!(error instanceof ActivityFailure) && !applicationFailureOf(error)) throw error;
        await this.waitForOperator(`${this.step} failed: ${messageOf(error)}`);
      }
    }
  }

  private async waitForOperator(attention: string): Promise<void> {
    const previous = this.status;
    this.attention = attention;
    this.setStatus('NeedsOperator');
    log.warn('transaction needs an operator', { transactionId: this.machine.transactionId, attention });
    this.operatorRetryRequested = false;
    await condition(() => this.operatorRetryRequested, OPERATOR_RECHECK_INTERVAL);
    const { historyLength, continueAsNewSuggested } = workflowInfo();
    if (historyLength >= OPERATOR_WAIT_HISTORY_LIMIT || continueAsNewSuggested) {
      // Nothing is in flight while waiting: the next run opens the record and meets this step again.
      await continueAsNew<typeof walletTransaction>({ ...this.input, received: this.machine.events });
    }
    this.attention = undefined;
    this.setStatus(previous);
  }

  private announced(decision: TransactionDecision, legs: AppliedLeg[]): void {
    this.setStatus(decision.status);
    // The outcome and the legs, at a glance in the Temporal UI's memo.
    upsertMemo({ outcome: decision, legs: legs.map((leg) => `${leg.leg} ${leg.amount} user ${leg.userId} (v${leg.version})`) });
  }

  private setStatus(status: TransactionStatus): void {
    this.status = status;
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.status, value: status }]);
  }

  private state(): TransactionState {
    const { record, events, legs, announced } = this.machine;
    const latest = record?.rollback ?? record?.first;
    return {
      transactionId: this.machine.transactionId,
      status: this.status,
      step: this.step,
      completedEvent: events.completed,
      failedEvent: events.failed,
      rejectedEvent: events.rejected,
      recorded: record ? (latest?.status ?? 'Pending') : undefined,
      legs: [...legs],
      finalizations: announced.map((decision) => (decision.status === 'Failed' ? { status: 'Failed', reason: decision.reason } : decision)),
      attention: this.attention,
    };
  }
}

function describeStep(step: TransactionStep): string {
  switch (step.kind) {
    case 'open':
      return 'opening the transaction record';
    case 'straightThrough':
      return 'opening the transaction record, applying its legs and announcing it';
    case 'adopt':
      return 'reading a ledger older than the record';
    case 'apply':
      return `${step.change.leg === 'debit' ? 'debiting sender' : 'crediting'} user ${step.change.userId}`;
    case 'decide':
      return `deciding Failed (${step.decision.reason})`;
    case 'void':
      return `voiding the ${step.change.leg} of user ${step.change.userId}`;
    case 'undo':
      return `${step.undo} of the ${step.forward.leg} of user ${step.forward.userId}`;
    case 'wait':
      return `waiting until ${step.until} to roll back`;
    case 'announce':
      return `announcing ${step.decision.status}`;
    case 'done':
      return 'closing';
  }
}
