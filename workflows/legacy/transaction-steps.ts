import { condition, log, setHandler, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import { applicationFailureOf, applyLeg, messageOf, publishFinalization } from '../activity-stubs';
import type { RecordedTransaction } from '../../activities';
import { BUSINESS_FAILURE_TYPES, type AppliedLeg, type BusinessFailureType, type FinalStatus, type LegChange } from '../../src/domain';
import {
  operatorRetrySignal,
  SEARCH_ATTRIBUTES,
  transactionStateQuery,
  type TransactionState,
  type TransactionStatus,
} from '../wallet-transaction/definitions';

// Frozen: the steps of the legacy transaction and reversal workflows of executions started before transactions were decided once. No new
// execution runs it; remove it once none is open (docs/design.md: "Changing a workflow safely").

/** How often a step waiting for an operator tries again by itself. */
const OPERATOR_RECHECK_INTERVAL = '1 hour';

export type LegResult = { applied: AppliedLeg } | { refused: BusinessFailureType };

/**
 * The steps every execution about a transaction takes, over its visible state: ledger legs that
 * wait for an operator rather than fail, announcements, status and step for the UI and the
 * `transactionState` query, and the `operatorRetry` signal.
 */
export class TransactionSteps {
  readonly state: TransactionState;
  private operatorRetryRequested = false;

  constructor(readonly transactionId: string) {
    this.state = { transactionId, status: 'Pending', step: 'starting', legs: [], finalizations: [] };
    setHandler(operatorRetrySignal, () => {
      this.operatorRetryRequested = true;
    });
    setHandler(transactionStateQuery, () => this.state);
  }

  /** Runs a ledger leg until it applies or is refused for a business reason. */
  async runLeg(change: LegChange): Promise<LegResult> {
    for (;;) {
      try {
        const applied = await applyLeg(change);
        this.state.legs.push(applied);
        return { applied };
      } catch (error) {
        const refused = businessFailureOf(error);
        if (refused) return { refused };
        await this.waitForOperator(`${change.leg} for user ${change.userId} failed: ${messageOf(error)}`);
      }
    }
  }

  /** Runs an undo leg (compensation, reversal) until it applies; a refusal waits for an operator. */
  async runUndo(change: LegChange, of: string): Promise<void> {
    this.setStep(`${change.leg} of ${of} for user ${change.userId}`);
    for (;;) {
      const result = await this.runLeg(change);
      if ('applied' in result) return;
      // Only a reversal of a credit can be refused (the recipient spent the money): a human decides.
      await this.waitForOperator(`${change.leg} of ${of} refused (${result.refused}) for user ${change.userId}`);
    }
  }

  async announce(finalized: { status: FinalStatus; reason?: string }): Promise<void> {
    this.setStep(`announcing ${finalized.status}`);
    await publishFinalization({ transactionId: this.transactionId, ...finalized }, this.state.legs);
    this.state.finalizations.push(finalized);
    this.setStatus(finalized.status);
    // The outcome and the legs, at a glance in the Temporal UI's memo.
    upsertMemo({ outcome: finalized, legs: this.state.legs.map((leg) => `${leg.leg} ${leg.amount} user ${leg.userId} (v${leg.version})`) });
  }

  /**
   * Makes sure the outcome the transaction record holds went out: an announcement already made is
   * not made again (the announcement step knows), one its execution died before making is made.
   */
  async announceRecorded(recorded: RecordedTransaction): Promise<void> {
    if (recorded.status === 'Pending') return;
    await this.announce(recorded.status === 'Failed' ? { status: 'Failed', reason: recorded.reason } : { status: 'Completed' });
  }

  lastAnnounced(): FinalStatus | undefined {
    return this.state.finalizations[this.state.finalizations.length - 1]?.status;
  }

  async waitForOperator(attention: string): Promise<void> {
    const previous = this.state.status;
    this.state.attention = attention;
    this.setStatus('NeedsOperator');
    log.warn('transaction needs an operator', { transactionId: this.transactionId, attention });
    this.operatorRetryRequested = false;
    await condition(() => this.operatorRetryRequested, OPERATOR_RECHECK_INTERVAL);
    this.state.attention = undefined;
    this.setStatus(previous);
  }

  setStatus(status: TransactionStatus): void {
    this.state.status = status;
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.status, value: status }]);
  }

  setStep(step: string): void {
    this.state.step = step;
  }
}

function businessFailureOf(error: unknown): BusinessFailureType | undefined {
  const type = applicationFailureOf(error)?.type;
  return Object.values(BUSINESS_FAILURE_TYPES).find((known) => known === type);
}
