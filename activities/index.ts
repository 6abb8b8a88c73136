import { ApplicationFailure, Context } from '@temporalio/activity';
import {
  FAILURE_REASONS,
  LEDGER_INVARIANT_FAILURE_TYPE,
  LEG_VOIDED_FAILURE_TYPE,
  type LegOutcome,
  type ReconciliationReport,
  type TransactionCompleted,
  type TransactionDecision,
  type TransactionRecordView,
  type UndoLeg,
  type VerificationSlice,
  type WalletActivities,
} from '../workflows/contract';
import type { Announcer } from '../src/finalization/announcer';
import { BusinessRuleError, LedgerInvariantError, LegVoidedError } from '../src/ledger/errors';
import type { Ledger, LedgerLeg } from '../src/ledger/ledger';
import type { LedgerEntryDocument } from '../src/ledger/ledger-entry.model';
import { termsFrom, type TransactionRecords } from '../src/transaction-record/transaction-records';

// The activities the workflows call (see TransactionActivities in the contract): each hands its
// step to the module that owns it, and turns that module's failures into what the workflow
// branches on: business answers as values, broken invariants as non-retryable failures, anything
// else (a database or broker fault) thrown as it is, for Temporal to retry.

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

export function createActivities({
  ledger,
  records,
  announcer,
  rollbackFenceMs,
  reconcile,
  verifyChains,
}: ActivityDependencies): WalletActivities {
  const signal = () => Context.current().cancellationSignal;
  const attempt = () => Context.current();
  return {
    async openRecord(opening) {
      if (opening.terms) return records.open(opening);
      // A first event without terms (transaction.failed, a rejected copy): unless a record exists,
      // the ledger may hold legs applied before records were kept, and the record takes their terms.
      const existing = await records.view(opening.transactionId);
      if (existing) return existing;
      const terms = termsShownBy(opening.transactionId, await ledger.entriesOfTransaction(opening.transactionId));
      return records.open({ ...opening, terms });
    },
    async adoptLedger(terms) {
      const decision = decisionShownBy(terms, await ledger.entriesOfTransaction(terms.transactionId));
      if (decision?.status === 'Completed') await records.decideCompleted(terms.transactionId);
      else if (decision) await records.decideFailed(terms.transactionId, 'first', decision);
      return (await records.view(terms.transactionId)) as TransactionRecordView;
    },
    async applyForwardLeg(change) {
      try {
        return outcomeOf(await ledger.applyLeg(change, signal()));
      } catch (error) {
        if (error instanceof LegVoidedError) return { kind: 'voided' };
        return refusalOrThrow(error);
      }
    },
    // The legs the run had applied are the ledger's to hold: the record keeps only the decision.
    recordDecision: (transactionId, position, decision) =>
      records.decideFailed(transactionId, position, decision, position === 'rollback' ? new Date(Date.now() + rollbackFenceMs) : undefined),
    voidLeg: async (change) => ({ kind: await ledger.voidLeg(change) }),
    async undoLeg(forward, undo) {
      try {
        return outcomeOf(await ledger.undoLeg(forward, undo, signal()));
      } catch (error) {
        return refusalOrThrow(error);
      }
    },
    announceOutcome: (transactionId, position, decision) => announcer.announce(transactionId, position, decision, attempt()),
    reconcileLedger: () => {
      const context = Context.current();
      // Every attempt of one scheduled run is the same owner: a retry resumes the pass its first attempt began.
      const owner = `${context.info.workflowExecution?.workflowId ?? context.info.workflowType}/${context.info.activityId}`;
      return reconcile({ owner, heartbeat: (progress) => context.heartbeat(progress), signal: context.cancellationSignal });
    },
    verifyLedgerSlice: (after) => {
      const context = Context.current();
      return verifyChains({ after, heartbeat: (progress) => context.heartbeat(progress), signal: context.cancellationSignal });
    },

    // Executions started before transactions were decided once (workflows/legacy/).
    async openTransaction(opening) {
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
    async applyLeg(change) {
      try {
        return (await ledger.applyLeg(change, signal())).leg;
      } catch (error) {
        throw asActivityFailure(error);
      }
    },
    async publishFinalization(finalized, legs = []) {
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
    reversalsOf: (transactionId) => ledger.reversalsOf(transactionId),
  };
}

function outcomeOf({ leg, predatesRecord }: LedgerLeg): LegOutcome {
  return { kind: 'applied', leg, predatesRecord };
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
