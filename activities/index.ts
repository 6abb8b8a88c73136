import { ApplicationFailure, Context } from '@temporalio/activity';
import {
  FAILURE_REASONS,
  LEDGER_INVARIANT_FAILURE_TYPE,
  processStraightThrough,
  LEG_VOIDED_FAILURE_TYPE,
  type AnnounceOutcome,
  type AppliedLeg,
  type DecisionPosition,
  type FailedDecision,
  type ForwardLegOutcome,
  type LegChange,
  type LegOutcome,
  type ReconciliationReport,
  type RecordOpening,
  type StraightThroughOutcome,
  type RecordStatus,
  type RollbackDecision,
  type TransactionCompleted,
  type TransactionDecision,
  type TransactionFinalized,
  type TransactionRecordView,
  type TransactionType,
  type UndoLeg,
  type VerificationSlice,
  type VoidOutcome,
} from '../src/domain';
import type { Announcer } from '../src/finalization/announcer';
import {
  BusinessRuleError,
  LedgerInvariantError,
  LegVoidedError,
  type Ledger,
  type LedgerLeg,
  type LedgerEntryDocument,
} from '../src/ledger';
import { termsFrom, type TransactionRecords } from '../src/transaction-record/transaction-records';

// The activities the workflows call: each hands its step to the module that owns it, and turns
// that module's failures into what the workflow branches on: business answers as values, broken
// invariants as non-retryable failures, anything else (a database or broker fault) thrown as it
// is, for Temporal to retry. The workflows take their types from here (`WalletActivities`).

export type WalletActivities = ReturnType<typeof createActivities>;

/** The steps of a transaction (workflows/wallet-transaction/machine.ts), each one activity. */
export type TransactionActivities = Pick<
  WalletActivities,
  'openRecord' | 'processStraightThrough' | 'adoptLedger' | 'applyForwardLeg' | 'recordDecision' | 'voidLeg' | 'undoLeg' | 'announceOutcome'
>;

/** The record opening of an execution started before transactions were decided once (workflows/legacy/). */
export interface TransactionOpening {
  transactionId: string;
  type: TransactionType | null;
  userIds: string[];
  amount: number | null;
}

/** The record's answer to a legacy execution that opens or consults it. */
export interface RecordedTransaction {
  status: RecordStatus;
  reason?: string;
}

export interface ActivityDependencies {
  ledger: Pick<Ledger, 'applyLeg' | 'voidLeg' | 'undoLeg' | 'entriesOfTransaction' | 'reversalsOf'>;
  records: Pick<TransactionRecords, 'open' | 'view' | 'decideFailed' | 'decideCompleted' | 'decisionAt'>;
  announcer: Pick<Announcer, 'announce'>;
  /**
   * How long a rollback waits before it moves money back: by then the broker has closed the
   * connection of any process that froze about to announce the Completed it rolls back.
   */
  rollbackFenceMs: number;
  /** Runs a reconciliation pass as `owner`, reporting progress through `heartbeat` and stopping when `signal` aborts. */
  reconcile: (pass: { owner: string; heartbeat: (progress: unknown) => void; signal: AbortSignal }) => Promise<ReconciliationReport>;
  /** Verifies the chains of a slice of wallets after `after`, reporting progress through `heartbeat`. */
  verifyChains: (slice: {
    after: string | null;
    heartbeat: (progress: unknown) => void;
    signal: AbortSignal;
  }) => Promise<VerificationSlice>;
}

export function createActivities({ ledger, records, announcer, rollbackFenceMs, reconcile, verifyChains }: ActivityDependencies) {
  const signal = () => Context.current().cancellationSignal;
  const attempt = () => Context.current();

  /** Opens the transaction's record on its first event, and returns the record as it stands. */
  async function openRecord(opening: RecordOpening): Promise<TransactionRecordView> {
    if (opening.terms) return records.open(opening);
    // A first event without terms (transaction.failed, a rejected copy): unless a record exists,
    // the ledger may hold legs applied before records were kept, and the record takes their terms.
    const existing = await records.view(opening.transactionId);
    if (existing) return existing;
    const terms = termsShownBy(opening.transactionId, await ledger.entriesOfTransaction(opening.transactionId));
    return records.open({ ...opening, terms });
  }

  /** Applies a forward leg exactly once, unless a Failed decision voided it or a business rule refuses it. */
  async function applyForwardLeg(change: LegChange): Promise<ForwardLegOutcome> {
    try {
      return outcomeOf(await ledger.applyLeg(change, signal()));
    } catch (error) {
      if (error instanceof LegVoidedError) return { kind: 'voided' };
      return refusalOrThrow(error);
    }
  }

  /**
   * Announces the decision at its position, once however often it runs; a Completed is announced
   * only while no rollback follows it. The legs are passed for the history's reader.
   */
  const announceOutcome = (
    transactionId: string,
    position: DecisionPosition,
    decision: TransactionDecision,
    _legs: AppliedLeg[],
  ): Promise<AnnounceOutcome> => announcer.announce(transactionId, position, decision, attempt());

  return {
    openRecord,
    /** A new transaction's open, forward legs and Completed in one step, as far as each answer leads there. */
    processStraightThrough: (opening: RecordOpening): Promise<StraightThroughOutcome> =>
      processStraightThrough(opening, {
        open: openRecord,
        apply: applyForwardLeg,
        announceCompleted: (legs) => announceOutcome(opening.transactionId, 'first', { status: 'Completed' }, legs),
      }),
    /**
     * For a transaction whose legs were applied before records were kept: records the decision its
     * ledger entries show (undone: Failed; all forward legs standing: Completed), and returns the record.
     */
    async adoptLedger(terms: TransactionCompleted): Promise<TransactionRecordView> {
      const decision = decisionShownBy(terms, await ledger.entriesOfTransaction(terms.transactionId));
      if (decision?.status === 'Completed') await records.decideCompleted(terms.transactionId);
      else if (decision) await records.decideFailed(terms.transactionId, 'first', decision);
      return (await records.view(terms.transactionId)) as TransactionRecordView;
    },
    applyForwardLeg,
    /**
     * Records a Failed decision at its position, unless one is there; returns the decision that
     * stands there (with its announcement time at `rollback`). The legs the run had applied are
     * passed for the history's reader; the ledger holds them, the record keeps only the decision.
     */
    recordDecision: (
      transactionId: string,
      position: DecisionPosition,
      decision: FailedDecision,
      _legs: AppliedLeg[],
    ): Promise<TransactionDecision | RollbackDecision> =>
      records.decideFailed(transactionId, position, decision, position === 'rollback' ? new Date(Date.now() + rollbackFenceMs) : undefined),
    /** Voids a forward leg not applied (it can never be applied after), or finds it standing. */
    voidLeg: async (change: LegChange): Promise<VoidOutcome> => ({ kind: await ledger.voidLeg(change) }),
    /**
     * Applies the undo of a forward leg exactly once, under the decision's undo leg: its key
     * (transaction, wallet, undo leg) is the same whichever run undoes it. The forward leg must stand.
     */
    async undoLeg(forward: LegChange, undo: UndoLeg): Promise<LegOutcome> {
      try {
        return outcomeOf(await ledger.undoLeg(forward, undo, signal()));
      } catch (error) {
        return refusalOrThrow(error);
      }
    },
    announceOutcome,
    /** Runs a reconciliation pass: what changed since the last one (the first is full). */
    reconcileLedger: (): Promise<ReconciliationReport> => {
      const context = Context.current();
      // Every attempt of one scheduled run is the same owner: a retry resumes the pass its first attempt began.
      const owner = `${context.info.workflowExecution?.workflowId ?? context.info.workflowType}/${context.info.activityId}`;
      return reconcile({ owner, heartbeat: (progress) => context.heartbeat(progress), signal: context.cancellationSignal });
    },
    /** Re-walks the hash chains of a slice of wallets, after the wallet id `after`, reading only. */
    verifyLedgerSlice: (after: string | null): Promise<VerificationSlice> => {
      const context = Context.current();
      return verifyChains({ after, heartbeat: (progress) => context.heartbeat(progress), signal: context.cancellationSignal });
    },

    // Executions started before transactions were decided once (workflows/legacy/).
    async openTransaction(opening: TransactionOpening): Promise<RecordedTransaction> {
      const view = await records.open({
        transactionId: opening.transactionId,
        type: opening.type,
        terms: termsFrom(opening),
        reason: null,
      });
      const latest = view.rollback ?? view.first;
      if (!latest) return { status: 'Pending' };
      return latest.status === 'Failed' ? { status: 'Failed', reason: latest.reason } : { status: 'Completed' };
    },
    /** Throws a business refusal (or LegVoided) as a non-retryable failure. */
    async applyLeg(change: LegChange): Promise<AppliedLeg> {
      try {
        return (await ledger.applyLeg(change, signal())).leg;
      } catch (error) {
        throw asActivityFailure(error);
      }
    },
    async publishFinalization(finalized: TransactionFinalized, legs: AppliedLeg[] = []): Promise<void> {
      const { transactionId } = finalized;
      if (finalized.status === 'Completed') {
        await announcer.announce(transactionId, 'first', { status: 'Completed' }, attempt());
        return;
      }
      const first = await records.decisionAt(transactionId, 'first');
      const position = first?.status === 'Completed' ? 'rollback' : 'first';
      const undo: UndoLeg = legs.some((leg) => leg.leg === 'compensation') ? 'compensation' : 'reversal';
      const reason = finalized.reason ?? '';
      const standing = await records.decideFailed(transactionId, position, { status: 'Failed', reason, undo });
      if (standing.status === 'Failed') await announcer.announce(transactionId, position, standing, attempt());
    },
    reversalsOf: (transactionId: string): Promise<LegChange[]> => ledger.reversalsOf(transactionId),
  };
}

function outcomeOf({ leg, predatesRecord, undone }: LedgerLeg): LegOutcome {
  return { kind: 'applied', leg, predatesRecord, undone };
}

/** A business refusal is an answer; a broken invariant waits for an operator; anything else is retried. */
function refusalOrThrow(error: unknown): LegOutcome {
  if (error instanceof BusinessRuleError) return { kind: 'refused', refusal: error.failureType };
  throw asActivityFailure(error);
}

/**
 * Business refusals, voided legs and ledger invariant violations become non-retryable failures the
 * workflow branches on; anything else (a database or broker fault) stays retryable.
 */
function asActivityFailure(error: unknown): unknown {
  if (error instanceof BusinessRuleError) {
    return ApplicationFailure.create({ type: error.failureType, message: error.message, nonRetryable: true });
  }
  if (error instanceof LegVoidedError) {
    return ApplicationFailure.create({ type: LEG_VOIDED_FAILURE_TYPE, message: error.message, nonRetryable: true });
  }
  if (error instanceof LedgerInvariantError) {
    return ApplicationFailure.create({ type: LEDGER_INVARIANT_FAILURE_TYPE, message: error.message, nonRetryable: true });
  }
  return error;
}

/**
 * What the entries of a transaction applied before records were kept say of it: undone (its undo
 * leg kept for every run that follows; its reason was announced then, and not kept), every forward
 * leg standing (Completed), or nothing yet.
 */
function decisionShownBy(terms: TransactionCompleted, entries: LedgerEntryDocument[]): TransactionDecision | undefined {
  const undo = entries.find((entry) => entry.leg === 'compensation' || entry.leg === 'reversal')?.leg as UndoLeg | undefined;
  if (undo) return { status: 'Failed', reason: FAILURE_REASONS.transactionFailed, undo };
  const forward = new Set(entries.filter((entry) => entry.leg === 'debit' || entry.leg === 'credit').map((entry) => entry.leg));
  const needed = terms.type === 'TopUp' ? ['credit'] : ['debit', 'credit'];
  return needed.every((leg) => forward.has(leg as LedgerEntryDocument['leg'])) ? { status: 'Completed' } : undefined;
}

/** The terms of a transaction whose forward legs were applied before records were kept, from its entries. */
function termsShownBy(transactionId: string, entries: LedgerEntryDocument[]): TransactionCompleted | null {
  const debit = entries.find((entry) => entry.leg === 'debit');
  const credit = entries.find((entry) => entry.leg === 'credit');
  if (debit?.counterpartyUserId) {
    return {
      transactionId,
      type: 'Transfer',
      fromUserId: debit.userId.toHexString(),
      toUserId: debit.counterpartyUserId.toHexString(),
      amount: -debit.amount,
    };
  }
  if (credit?.transactionType === 'TopUp')
    return { transactionId, type: 'TopUp', userId: credit.userId.toHexString(), amount: credit.amount };
  return null;
}
