import type { UndoLeg } from './legs';

// Transactions as the platform and the wallet speak of them: the events, the announcement, and the
// durable transaction record's decisions.

export const TRANSACTION_TYPES = ['TopUp', 'Transfer'] as const;
export type TransactionType = (typeof TRANSACTION_TYPES)[number];

/** `transaction.completed` for a top-up: money enters the platform. */
export interface TopUpCompleted {
  transactionId: string;
  type: 'TopUp';
  userId: string;
  amount: number;
}

/** `transaction.completed` for a transfer between two wallets. */
export interface TransferCompleted {
  transactionId: string;
  type: 'Transfer';
  fromUserId: string;
  toUserId: string;
  amount: number;
}

export type TransactionCompleted = TopUpCompleted | TransferCompleted;

/** The wallets a completed transaction touches. */
export function partiesOf(event: TransactionCompleted): string[] {
  return event.type === 'TopUp' ? [event.userId] : [event.fromUserId, event.toUserId];
}

/** `transaction.failed`: the platform abandoned the transaction; undo whatever the wallet applied. */
export interface TransactionFailed {
  transactionId: string;
  type: TransactionType;
  reason: string;
}

/**
 * A `transaction.completed` the wallet refused to apply (a bad amount, a transfer to oneself, an
 * unknown type...) although it names a valid transactionId: the transaction still gets a final
 * status, `Failed` with this reason, so that the platform does not show it pending for ever.
 */
export interface TransactionRejected {
  transactionId: string;
  reason: string;
}

export type FinalStatus = 'Completed' | 'Failed';

/** `wallet.transactionFinalized`, the wallet's announcement of a transaction's outcome. */
export interface TransactionFinalized {
  transactionId: string;
  status: FinalStatus;
  reason?: string;
}

/** Where a transaction stands in its durable transaction record: its latest decision, or none yet. */
export type RecordStatus = 'Pending' | FinalStatus;

/**
 * What a transaction's record is opened with, by whichever run opens it first: the transaction's
 * terms (from its `transaction.completed`), or, when its first event was a `transaction.failed` or
 * a rejected copy, no terms and the reason it fails. Runs that come later follow what was recorded.
 */
export interface RecordOpening {
  transactionId: string;
  type: TransactionType | null;
  terms: TransactionCompleted | null;
  reason: string | null;
}

/**
 * Where a transaction's record stands a decision is recorded at: `first` (Completed, or Failed
 * before it completed) and `rollback` (the Failed of a Completed transaction that
 * `transaction.failed` rolled back). Each position is decided once, by a unique key.
 */
export type DecisionPosition = 'first' | 'rollback';

export interface CompletedDecision {
  status: 'Completed';
}

/** A Failed decision names the undo leg that every run undoing a forward leg of it writes. */
export interface FailedDecision {
  status: 'Failed';
  reason: string;
  undo: UndoLeg;
}

export type TransactionDecision = CompletedDecision | FailedDecision;

/**
 * A rollback moves money back, and announces its Failed, no earlier than `reverseAfter`: by then
 * a process that was about to announce the Completed it rolls back has done so, or, frozen, has had
 * its broker connection closed (see the finalization publisher). So that Completed is never
 * announced over reversed legs, nor after the Failed.
 */
export interface RollbackDecision extends FailedDecision {
  reverseAfter: string;
}

/** The transaction record as a run reads it. */
export interface TransactionRecordView {
  /** The terms the record was opened with; null when its first event was not a `transaction.completed`. */
  terms: TransactionCompleted | null;
  /** Why a transaction opened without terms fails (null on records opened before it was kept). */
  openingReason: string | null;
  first: TransactionDecision | null;
  rollback: RollbackDecision | null;
}

/** Announced (now or by an earlier attempt), or not announced because another decision superseded it. */
export type AnnounceOutcome = { kind: 'announced' } | { kind: 'superseded' };

/** The events of a transaction, as the record judges them. */
export type TransactionEventKind = 'completed' | 'failed' | 'rejected';

/**
 * Whether an event can still change a transaction whose record stands at `status`: a final
 * transaction is final for good, but one that ended `Completed` can still be rolled back by
 * `transaction.failed`.
 */
export function eventCanChange(event: TransactionEventKind, status: RecordStatus | undefined): boolean {
  if (status === undefined || status === 'Pending') return true;
  return event === 'failed' && status === 'Completed';
}
