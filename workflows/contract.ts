import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal } from '@temporalio/workflow';

// The contract between the workflows and everything around them: the bridge that starts and
// signals them, the activities they call, the operators' tools. The payloads both sides share, the
// workflow ids, signals, query and search attributes, and the activities' interface. Deterministic:
// the workflow bundle includes it, so it imports nothing but the Temporal definitions.

// ---- transactions ---------------------------------------------------------------------------

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

// ---- legs -----------------------------------------------------------------------------------

/**
 * A leg is one balance change of one wallet within a transaction:
 * - debit / credit: the forward legs of a top-up (credit) or transfer (debit sender, credit recipient);
 * - compensation: the saga's undo of a forward leg when a later leg failed for a business reason;
 * - reversal: the undo of a forward leg because the platform sent `transaction.failed`;
 * - opening: a wallet's configured initial balance.
 */
export const LEGS = ['opening', 'debit', 'credit', 'compensation', 'reversal'] as const;
export type Leg = (typeof LEGS)[number];
export type ForwardLeg = 'debit' | 'credit';
export type UndoLeg = 'compensation' | 'reversal';

/** A balance change the ledger is asked to apply, exactly once per (transactionId, userId, leg). */
export interface LegChange {
  transactionId: string;
  transactionType: TransactionType;
  leg: Exclude<Leg, 'opening'>;
  userId: string;
  /** Signed amount in minor units: negative takes money out of the wallet. */
  amount: number;
  counterpartyUserId?: string;
}

/** What the ledger recorded for a leg: the entry's amount, resulting balance and wallet version. */
export interface AppliedLeg {
  transactionId: string;
  leg: Exclude<Leg, 'opening'>;
  userId: string;
  amount: number;
  balanceAfter: number;
  version: number;
}

// ---- failures -------------------------------------------------------------------------------

/** Reasons the wallet gives in `wallet.transactionFinalized` for its own business failures. */
export const FAILURE_REASONS = {
  insufficientBalance: 'Insufficient balance',
  walletNotFound: 'Wallet not found',
  senderWalletNotFound: 'Sender wallet not found',
  recipientWalletNotFound: 'Recipient wallet not found',
  balanceLimitExceeded: 'Balance limit exceeded',
  transactionFailed: 'Transaction failed',
} as const;

/** The reason a `Failed` announcement carries: never empty (the platform requeues such a message for ever). */
export function failureReason(reason: string | null | undefined): string {
  const trimmed = reason?.trim();
  return trimmed ? trimmed : FAILURE_REASONS.transactionFailed;
}

/** The reason announced for a rejected `transaction.completed`: what was wrong with it. */
export function rejectionReason(problem: string): string {
  return `Rejected by the wallet: ${problem}`;
}

/** Error types shared by activities (which throw them) and workflows (which branch on them). */
export const BUSINESS_FAILURE_TYPES = {
  insufficientBalance: 'InsufficientBalance',
  walletNotFound: 'WalletNotFound',
  balanceLimitExceeded: 'BalanceLimitExceeded',
} as const;
export type BusinessFailureType = (typeof BUSINESS_FAILURE_TYPES)[keyof typeof BUSINESS_FAILURE_TYPES];

/** A forward leg that a Failed decision voided: it can never be applied (legacy executions only see it). */
export const LEG_VOIDED_FAILURE_TYPE = 'LegVoided';
/** A ledger invariant broke: never retried automatically, the workflow waits for an operator. */
export const LEDGER_INVARIANT_FAILURE_TYPE = 'LedgerInvariantViolation';
/** The reconciliation found drift: its execution fails with the report in its details. */
export const LEDGER_DRIFT_FAILURE_TYPE = 'LedgerDrift';

// ---- reconciliation -------------------------------------------------------------------------

export interface WalletDrift {
  userId: string;
  problem: string;
}

/** A wallet whose hash chain breaks, at the first entry whose fields or links do not match. */
export interface ChainBreak {
  userId: string;
  version: number;
  problem: string;
}

/** One slice of a verification of the ledger's chains (see src/reconciliation/chain-verification.ts). */
export interface VerificationSlice {
  wallets: number;
  entries: number;
  broken: ChainBreak[];
  /** The last wallet verified (its wallet id): the next slice starts after it; null once every wallet is. */
  next: string | null;
}

/** A leg as it stands in the ledger. */
export interface StandingLeg {
  leg: Leg;
  userId: string;
  amount: number;
  version: number;
}

/** A transaction the reconciliation reports: its record's status and what stands of it in the ledger. */
export interface ReportedTransaction {
  transactionId: string;
  type: TransactionType | null;
  /** `Unrecorded`: legs applied before records were kept, and no record since. */
  status: RecordStatus | 'Unrecorded';
  openedAt: string | null;
  standing: StandingLeg[];
}

export interface ReconciliationReport {
  /** The pass's number: each pass checks what changed since the one before. */
  pass: number;
  /** `full` walks every wallet from its first entry (the first pass, or on demand); `incremental` what changed. */
  mode: 'full' | 'incremental';
  checkedAt: string;
  /** Wallets walked by this pass, and the entries it verified. */
  wallets: number;
  entries: number;
  /** Transactions looked at: those opened or rolled back since the reconciliation last saw them settled. */
  transactions: number;
  /** Sum of every wallet's balance at its checkpoint. */
  totalBalance: number;
  /** Money the platform brought in: opening balances and top-ups, net of their reversals. */
  toppedUp: number;
  /**
   * What transfers still moving add to the balances counted (one leg counted, its pair not yet):
   * the balances equal toppedUp plus this.
   */
  inFlight: number;
  /** Whether the balances equal the money brought in plus what is in flight; null when not judged (`truncated`). */
  conserved: boolean | null;
  /** Final transactions whose standing legs do not match their status (money created or destroyed). */
  unbalanced: ReportedTransaction[];
  /**
   * Transactions not final, or final and not yet undone, longer than the bound after they opened or
   * were decided: an execution terminated or deleted, or one waiting for an operator.
   */
  stalled: ReportedTransaction[];
  /** Wallets whose ledger or document is wrong, with the first problem found (an entry changed names its version). */
  drift: WalletDrift[];
  /** Wallet documents found behind a sound ledger (a crash or a race between writers), rolled forward. */
  repaired: string[];
  /** More to report or check than one pass holds: the rest is in the next pass. */
  truncated: boolean;
  ok: boolean;
}

// ---- the activities the workflows call ------------------------------------------------------

/** What applying a leg found: the entry (written now or before), a business refusal, or the leg voided by a Failed decision. */
export type LegOutcome = { kind: 'applied'; leg: AppliedLeg; predatesRecord: boolean } | { kind: 'refused'; refusal: BusinessFailureType };
export type ForwardLegOutcome = LegOutcome | { kind: 'voided' };
/** What voiding a forward leg found: it is void for good, or it stands in the ledger (and must be undone). */
export type VoidOutcome = { kind: 'voided' } | { kind: 'standing' };
/** Announced (now or by an earlier attempt), or not announced because another decision superseded it. */
export type AnnounceOutcome = { kind: 'announced' } | { kind: 'superseded' };

/** The steps of a transaction (see workflows/transaction-machine.ts), each one activity. */
export interface TransactionActivities {
  /** Opens the transaction's record on its first event, and returns the record as it stands. */
  openRecord(opening: RecordOpening): Promise<TransactionRecordView>;
  /**
   * For a transaction whose legs were applied before records were kept: records the decision its
   * ledger entries show (undone: Failed; all forward legs standing: Completed), and returns the record.
   */
  adoptLedger(terms: TransactionCompleted): Promise<TransactionRecordView>;
  /** Applies a forward leg exactly once, unless a Failed decision voided it or a business rule refuses it. */
  applyForwardLeg(change: LegChange): Promise<ForwardLegOutcome>;
  /** Records a Failed decision at its position, unless one is there; returns the decision that stands there (with its announcement time at `rollback`). */
  recordDecision(
    transactionId: string,
    position: DecisionPosition,
    decision: FailedDecision,
    legs: AppliedLeg[],
  ): Promise<TransactionDecision | RollbackDecision>;
  /** Voids a forward leg not applied (it can never be applied after), or finds it standing. */
  voidLeg(change: LegChange): Promise<VoidOutcome>;
  /**
   * Applies the undo of a forward leg exactly once, under the decision's undo leg: its key
   * (transaction, wallet, undo leg) is the same whichever run undoes it. The forward leg must stand.
   */
  undoLeg(forward: LegChange, undo: UndoLeg): Promise<LegOutcome>;
  /**
   * Announces the decision at its position, once however often it runs; a Completed is recorded
   * here first (with the legs), and is announced only while no rollback follows it.
   */
  announceOutcome(
    transactionId: string,
    position: DecisionPosition,
    decision: TransactionDecision,
    legs: AppliedLeg[],
  ): Promise<AnnounceOutcome>;
}

export interface WalletActivities extends TransactionActivities, LegacyTransactionActivities {
  /** Runs a reconciliation pass: what changed since the last one (the first is full). */
  reconcileLedger(): Promise<ReconciliationReport>;
  /** Re-walks the hash chains of a slice of wallets, after the wallet id `after`, reading only. */
  verifyLedgerSlice(after: string | null): Promise<VerificationSlice>;
}

// ---- the activities of executions started before transactions were decided once --------------
// Executions that began under the previous release replay their history with the steps they
// started with (workflows/legacy/); these serve them until none is open.

/** The record opening of a legacy execution. */
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

export interface LegacyTransactionActivities {
  openTransaction(opening: TransactionOpening): Promise<RecordedTransaction>;
  /** Throws a business refusal (or LegVoided) as a non-retryable failure. */
  applyLeg(change: LegChange): Promise<AppliedLeg>;
  publishFinalization(finalized: TransactionFinalized, legs: AppliedLeg[]): Promise<void>;
  reversalsOf(transactionId: string): Promise<LegChange[]>;
}

// ---- the workflows --------------------------------------------------------------------------

export const TRANSACTION_WORKFLOW_TYPE = 'walletTransaction';
export const TRANSACTION_REVERSAL_WORKFLOW_TYPE = 'walletReversal';
export const LEDGER_RECONCILIATION_WORKFLOW_TYPE = 'ledgerReconciliation';

/** One execution per transaction: the id is derived from the transactionId alone. */
export function transactionWorkflowId(transactionId: string): string {
  return `wallet-transaction-${transactionId.toLowerCase()}`;
}

/** The execution that reverses a transaction settled Completed when `transaction.failed` comes after. */
export function transactionReversalWorkflowId(transactionId: string): string {
  return `wallet-reversal-${transactionId.toLowerCase()}`;
}

export interface TransactionWorkflowInput {
  transactionId: string;
  /**
   * How long one step retries an infrastructure failure before the transaction waits for an
   * operator (TRANSACTION_STEP_TIMEOUT_SECONDS); seven days for executions started without it.
   */
  stepTimeoutMs?: number;
  /** The events an earlier run of this execution had received, when it continued as new. */
  received?: ReceivedEvents;
}

/** The events a run received: the first of each kind counts. */
export interface ReceivedEvents {
  completed?: TransactionCompleted;
  failed?: TransactionFailed;
  rejected?: TransactionRejected;
}

export type TransactionReversalInput = TransactionFailed;

export const transactionCompletedSignal = defineSignal<[TransactionCompleted]>('transactionCompleted');
export const transactionFailedSignal = defineSignal<[TransactionFailed]>('transactionFailed');
/** A `transaction.completed` the bridge refused (and dead-lettered): the transaction ends Failed with why. */
export const transactionRejectedSignal = defineSignal<[TransactionRejected]>('transactionRejected');
/** Sent by an operator once the cause of a NeedsOperator state is fixed: the stuck step runs again. */
export const operatorRetrySignal = defineSignal('operatorRetry');

/** Where the transaction is, for operators and tests (`transactionState` query). */
export type TransactionStatus = 'Pending' | FinalStatus | 'NeedsOperator';

export interface TransactionState {
  transactionId: string;
  status: TransactionStatus;
  step: string;
  completedEvent?: TransactionCompleted;
  failedEvent?: TransactionFailed;
  rejectedEvent?: TransactionRejected;
  /** Where the durable transaction record stood when this execution opened it. */
  recorded?: RecordStatus;
  /** Every ledger entry this execution applied, in order, including compensations and reversals. */
  legs: AppliedLeg[];
  /** The statuses announced in `wallet.transactionFinalized`, in order. */
  finalizations: Array<{ status: FinalStatus; reason?: string }>;
  /** Why the execution waits for an operator, when it does. */
  attention?: string;
}

export const transactionStateQuery = defineQuery<TransactionState>('transactionState');

/** The memo key under which an execution started by the bridge holds the event that started it. */
export const TRANSACTION_MEMO_KEY = 'transaction';

/** Custom search attributes: find executions by transaction, user, type and outcome in the Temporal UI. */
export const SEARCH_ATTRIBUTES = {
  transactionId: defineSearchAttributeKey('WalletTransactionId', SearchAttributeType.KEYWORD),
  userIds: defineSearchAttributeKey('WalletUserIds', SearchAttributeType.KEYWORD_LIST),
  transactionType: defineSearchAttributeKey('WalletTransactionType', SearchAttributeType.KEYWORD),
  status: defineSearchAttributeKey('WalletStatus', SearchAttributeType.KEYWORD),
} as const;
