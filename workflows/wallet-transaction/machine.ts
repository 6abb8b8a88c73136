import {
  BUSINESS_FAILURE_TYPES,
  FAILURE_REASONS,
  forwardLegsOf,
  type AnnounceOutcome,
  type AppliedLeg,
  type BusinessFailureType,
  type DecisionPosition,
  type FailedDecision,
  type FinalStatus,
  type ForwardLeg,
  type ForwardLegChange,
  type ForwardLegOutcome,
  type LegChange,
  type RecordOpening,
  type TransactionCompleted,
  type TransactionDecision,
  type TransactionFailed,
  type TransactionRecordView,
  type TransactionRejected,
  type RollbackDecision,
  type StraightThroughOutcome,
  type UndoLeg,
  type VoidOutcome,
} from '../../src/domain';
import type { ReceivedEvents } from './definitions';

// One transaction as one run of it sees it, and the only place where anything about it is decided.
//
// The durable truth is the transaction record (its terms, and a decision at each position, each
// claimed once by a unique key) and the ledger (each leg claimed once by its unique key, and a
// forward leg voided by claiming that same key). A run knows the events it received, the record as
// it last read it, and what its own steps found. From that alone the machine says what to do next:
//
//   no record read     -> open it (the first run to open it fixes the terms, or why it fails);
//                         a run that has done nothing yet may instead process it straight
//                         through: open, apply and announce in one step, stopping at the first
//                         answer that does not lead to Completed (see processStraightThrough)
//   undecided          -> apply the forward legs in order; a refusal, `transaction.failed`, or a
//                         record without terms is decided Failed; all legs applied is Completed,
//                         decided and announced in one step
//   Completed          -> announce it; with `transaction.failed`, decide a rollback instead
//   Failed (either)    -> every forward leg, last first, voided or undone; then announce
//
// A decision is recorded before anything is done because of it, and a run that finds a decision
// follows it: two runs of one transaction, at once or one after the other, reach the same end.
// Once a transaction is decided Failed no forward leg of it can land (its key is void or it is
// undone), so the legs standing always match the latest announced status.

/** What one step of a transaction asks its executor (a workflow's activities, or the model's). */
export type TransactionStep =
  | { kind: 'open'; opening: RecordOpening }
  | { kind: 'straightThrough'; opening: RecordOpening }
  | { kind: 'adopt'; terms: TransactionCompleted }
  | { kind: 'apply'; change: ForwardLegChange }
  | { kind: 'decide'; position: DecisionPosition; decision: FailedDecision }
  | { kind: 'void'; change: ForwardLegChange }
  | { kind: 'undo'; forward: ForwardLegChange; undo: UndoLeg }
  | { kind: 'wait'; until: string }
  | { kind: 'announce'; position: DecisionPosition; decision: TransactionDecision }
  | { kind: 'done'; status: FinalStatus };

/** Runs the steps; each call is one atomic claim or read of the record or the ledger (retried until it answers). */
export interface TransactionStepExecutor {
  open(opening: RecordOpening): Promise<TransactionRecordView>;
  straightThrough(opening: RecordOpening): Promise<StraightThroughOutcome>;
  adopt(terms: TransactionCompleted): Promise<TransactionRecordView>;
  apply(change: ForwardLegChange): Promise<ForwardLegOutcome>;
  /** Returns the decision standing at the position (a RollbackDecision at `rollback`). */
  decide(position: DecisionPosition, decision: FailedDecision, legs: AppliedLeg[]): Promise<TransactionDecision | RollbackDecision>;
  void(change: ForwardLegChange): Promise<VoidOutcome>;
  /** Resolves once the undo is applied: a refusal waits (for an operator) and tries again. */
  undo(forward: ForwardLegChange, undo: UndoLeg): Promise<AppliedLeg>;
  /** Resolves at `until` (an ISO-8601 instant), not before. */
  wait(until: string): Promise<void>;
  announce(position: DecisionPosition, decision: TransactionDecision, legs: AppliedLeg[]): Promise<AnnounceOutcome>;
}

/** A forward leg, as far as this run knows: applied (standing), void for good, or undone. */
type LegState = 'applied' | 'voided' | 'undone';

export class TransactionMachine {
  readonly events: ReceivedEvents = {};
  /** The record as this run last read it; undefined until opened, or once found stale. */
  record: TransactionRecordView | undefined;
  /** Every ledger entry this run's steps wrote or found, in order. */
  readonly legs: AppliedLeg[] = [];
  /** What this run announced, in order. */
  readonly announced: TransactionDecision[] = [];
  private readonly legStates = new Map<ForwardLeg, LegState>();
  private readonly announcedAt = new Set<DecisionPosition>();
  /** This run waited until its rollback's `reverseAfter` before moving money back. */
  private rollbackFenceWaited = false;
  private refusal: string | undefined;
  /** A forward leg was found applied before the transaction had a record: its ledger is read once. */
  private adoption: 'needed' | 'done' | undefined;

  /** `straightThrough`: a run of a new transaction opens, applies and announces in one step (executions started before it cannot). */
  constructor(
    readonly transactionId: string,
    private readonly straightThrough = false,
  ) {}

  /** Takes an event of this transaction (signals of other transactions are ignored); the first of each kind counts. */
  receive(
    event:
      | { kind: 'completed'; event: TransactionCompleted }
      | { kind: 'failed'; event: TransactionFailed }
      | { kind: 'rejected'; event: TransactionRejected },
  ): void {
    if (event.event.transactionId !== this.transactionId) return;
    switch (event.kind) {
      case 'completed':
        this.events.completed ??= event.event;
        break;
      case 'failed':
        this.events.failed ??= event.event;
        break;
      case 'rejected':
        this.events.rejected ??= event.event;
        break;
    }
  }

  get hasEvent(): boolean {
    return !!(this.events.completed || this.events.failed || this.events.rejected);
  }

  /** What to do next. Call only once an event was received. */
  next(): TransactionStep {
    const { record } = this;
    if (!record) {
      const opening = this.opening();
      const fresh = this.legStates.size === 0 && this.announcedAt.size === 0;
      return this.straightThrough && fresh && opening.terms && !this.events.failed
        ? { kind: 'straightThrough', opening }
        : { kind: 'open', opening };
    }
    if (this.adoption === 'needed' && record.terms) return { kind: 'adopt', terms: record.terms };
    if (record.rollback) return this.settleFailed(record, 'rollback', record.rollback);
    if (record.first?.status === 'Failed') return this.settleFailed(record, 'first', record.first);
    if (record.first?.status === 'Completed') {
      if (this.events.failed) return { kind: 'decide', position: 'rollback', decision: failed(this.events.failed.reason, 'reversal') };
      if (!this.announcedAt.has('first')) return { kind: 'announce', position: 'first', decision: record.first };
      return { kind: 'done', status: 'Completed' };
    }
    if (this.events.failed) return { kind: 'decide', position: 'first', decision: failed(this.events.failed.reason, 'reversal') };
    if (!record.terms) {
      return { kind: 'decide', position: 'first', decision: failed(record.openingReason ?? FAILURE_REASONS.transactionFailed, 'reversal') };
    }
    if (this.refusal) return { kind: 'decide', position: 'first', decision: failed(this.refusal, 'compensation') };
    if ([...this.legStates.values()].includes('voided')) {
      throw new Error(`transaction ${this.transactionId}: a forward leg is void but its record holds no decision`);
    }
    const pending = forwardLegsOf(record.terms).find((leg) => this.stateOf(leg) !== 'applied');
    if (pending) return { kind: 'apply', change: pending };
    return { kind: 'announce', position: 'first', decision: { status: 'Completed' } };
  }

  recordRead(record: TransactionRecordView): void {
    this.record = record;
    if (this.adoption === 'needed') this.adoption = 'done';
  }

  /**
   * Takes what straight-through processing found as the answers to the steps it stands for, one by
   * one, checking that each is the step this run would have taken next.
   */
  processedStraightThrough(outcome: StraightThroughOutcome): void {
    // A `transaction.failed` received while the step ran arrived, for this run, after it.
    const { failed } = this.events;
    delete this.events.failed;
    try {
      this.followStraightThrough(outcome);
    } finally {
      if (failed) this.events.failed = failed;
    }
  }

  private followStraightThrough({ record, legs, announced }: StraightThroughOutcome): void {
    this.recordRead(record);
    const changes = record.terms ? forwardLegsOf(record.terms) : [];
    legs.forEach((found, index) => {
      const change = changes[index];
      this.expectNext({ kind: 'apply', change });
      this.forwardLegFound(change, found);
    });
    if (!announced) return;
    const decision: TransactionDecision = { status: 'Completed' };
    this.expectNext({ kind: 'announce', position: 'first', decision });
    this.announcedOutcome('first', decision, announced);
  }

  forwardLegFound(change: ForwardLegChange, outcome: ForwardLegOutcome): void {
    switch (outcome.kind) {
      case 'applied':
        this.legStates.set(change.leg, 'applied');
        this.legs.push(outcome.leg);
        if ((outcome.predatesRecord || outcome.undone) && this.adoption === undefined) this.adoption = 'needed';
        break;
      case 'refused':
        this.refusal = refusalReason(outcome.refusal, change);
        break;
      case 'voided':
        // Only a Failed decision voids a leg: read the record again to follow it.
        this.legStates.set(change.leg, 'voided');
        this.record = undefined;
        break;
    }
  }

  /** The decision standing at a position: this run's, or the one another run recorded first. */
  decided(position: DecisionPosition, standing: TransactionDecision | RollbackDecision): void {
    if (!this.record) return;
    if (position === 'first') this.record = { ...this.record, first: standing };
    else if ('reverseAfter' in standing) this.record = { ...this.record, rollback: standing };
  }

  voidFound(change: ForwardLegChange, outcome: VoidOutcome): void {
    this.legStates.set(change.leg, outcome.kind === 'voided' ? 'voided' : 'applied');
  }

  waited(): void {
    this.rollbackFenceWaited = true;
  }

  undone(forward: ForwardLeg, undo: AppliedLeg): void {
    this.legStates.set(forward, 'undone');
    this.legs.push(undo);
  }

  announcedOutcome(position: DecisionPosition, decision: TransactionDecision, outcome: AnnounceOutcome): void {
    if (outcome.kind === 'superseded') {
      this.record = undefined;
      return;
    }
    this.announcedAt.add(position);
    this.announced.push(decision);
    if (position === 'first' && this.record && !this.record.first) this.record = { ...this.record, first: decision };
  }

  /**
   * Nothing of a Failed transaction may stand: each forward leg is voided (it can never land) or, if
   * it stands, undone under the decision's undo leg, the last applied first; then the announcement.
   * Legs land in order, each only once the one before it stands, so none can land after a void one.
   */
  private settleFailed(
    record: TransactionRecordView,
    position: DecisionPosition,
    decision: FailedDecision | RollbackDecision,
  ): TransactionStep {
    // A Completed that a frozen process was about to announce goes out before a rollback moves any
    // money, or never: its connection is closed by then (see RollbackDecision).
    if ('reverseAfter' in decision && !this.rollbackFenceWaited) return { kind: 'wait', until: decision.reverseAfter };
    const legs = record.terms ? forwardLegsOf(record.terms) : [];
    const firstVoid = legs.findIndex((leg) => this.stateOf(leg) === 'voided');
    const live = firstVoid < 0 ? legs : legs.slice(0, firstVoid);
    const unknown = live.find((leg) => this.stateOf(leg) === undefined);
    if (unknown) return { kind: 'void', change: unknown };
    const standing = live.reverse().find((leg) => this.stateOf(leg) === 'applied');
    if (standing) return { kind: 'undo', forward: standing, undo: decision.undo };
    if (this.announcedAt.has(position)) return { kind: 'done', status: 'Failed' };
    return { kind: 'announce', position, decision };
  }

  /** Straight-through processing stands for these steps only if each is the one the machine asks for. */
  private expectNext(step: TransactionStep): void {
    const next = this.next();
    if (JSON.stringify(next) !== JSON.stringify(step)) {
      throw new Error(
        `transaction ${this.transactionId}: straight-through processing took ${JSON.stringify(step)}, not ${JSON.stringify(next)}`,
      );
    }
  }

  private stateOf(leg: ForwardLegChange): LegState | undefined {
    return this.legStates.get(leg.leg);
  }

  private opening(): RecordOpening {
    const { completed, failed, rejected } = this.events;
    if (completed) return { transactionId: this.transactionId, type: completed.type, terms: completed, reason: null };
    return {
      transactionId: this.transactionId,
      type: failed?.type ?? null,
      terms: null,
      reason: failed?.reason ?? rejected?.reason ?? null,
    };
  }
}

/** Runs one transaction until this run has nothing left to do, and returns its final status. */
export async function runTransaction(
  machine: TransactionMachine,
  executor: TransactionStepExecutor,
  onStep: (step: TransactionStep) => void = () => undefined,
): Promise<FinalStatus> {
  for (;;) {
    const step = machine.next();
    onStep(step);
    switch (step.kind) {
      case 'done':
        return step.status;
      case 'open':
        machine.recordRead(await executor.open(step.opening));
        break;
      case 'straightThrough':
        machine.processedStraightThrough(await executor.straightThrough(step.opening));
        break;
      case 'adopt':
        machine.recordRead(await executor.adopt(step.terms));
        break;
      case 'apply':
        machine.forwardLegFound(step.change, await executor.apply(step.change));
        break;
      case 'decide':
        machine.decided(step.position, await executor.decide(step.position, step.decision, [...machine.legs]));
        break;
      case 'void':
        machine.voidFound(step.change, await executor.void(step.change));
        break;
      case 'undo':
        machine.undone(step.forward.leg, await executor.undo(step.forward, step.undo));
        break;
      case 'wait':
        await executor.wait(step.until);
        machine.waited();
        break;
      case 'announce':
        machine.announcedOutcome(step.position, step.decision, await executor.announce(step.position, step.decision, [...machine.legs]));
        break;
    }
  }
}

/** The undo of a forward leg: the same wallet, the opposite amount, under the decision's undo leg. */
export function undoOf(forward: LegChange, undo: UndoLeg): LegChange {
  return { ...forward, leg: undo, amount: -forward.amount };
}

function failed(reason: string, undo: UndoLeg): FailedDecision {
  return { status: 'Failed', reason, undo };
}

function refusalReason(refused: BusinessFailureType, change: LegChange): string {
  switch (refused) {
    case BUSINESS_FAILURE_TYPES.insufficientBalance:
      return FAILURE_REASONS.insufficientBalance;
    case BUSINESS_FAILURE_TYPES.balanceLimitExceeded:
      return FAILURE_REASONS.balanceLimitExceeded;
    case BUSINESS_FAILURE_TYPES.walletNotFound:
      if (change.transactionType === 'TopUp') return FAILURE_REASONS.walletNotFound;
      return change.leg === 'debit' ? FAILURE_REASONS.senderWalletNotFound : FAILURE_REASONS.recipientWalletNotFound;
  }
}
