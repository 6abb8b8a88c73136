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

/** Where a transaction stands in its durable transaction record. */
export type RecordStatus = 'Pending' | FinalStatus;

/** What the transaction record is opened with: the transaction as its first event describes it. */
export interface TransactionOpening {
  transactionId: string;
  type: TransactionType | null;
  userIds: string[];
  amount: number | null;
}

/** The record's answer to a step that opens or consults it. */
export interface RecordedTransaction {
  status: RecordStatus;
  reason?: string;
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

/** A ledger invariant broke: never retried automatically, the workflow waits for an operator. */
export const LEDGER_INVARIANT_FAILURE_TYPE = 'LedgerInvariantViolation';
/** The reconciliation found drift: its execution fails with the report in its details. */
export const LEDGER_DRIFT_FAILURE_TYPE = 'LedgerDrift';

// ---- reconciliation -------------------------------------------------------------------------

export interface WalletDrift {
  userId: string;
  problem: string;
}

export interface ReconciliationReport {
  checkedAt: string;
  wallets: number;
  entries: number;
  /** Sum of every wallet's balance. */
  totalBalance: number;
  /** Money the platform brought in: opening balances and top-ups, net of their reversals. */
  toppedUp: number;
  /**
   * What transfers still moving while their wallets were read add to the balances counted (one leg
   * counted, its pair not yet): the balances equal toppedUp plus this.
   */
  inFlight: number;
  /** Transfers whose legs do not sum to zero (money created or destroyed inside the platform). */
  unbalancedTransfers: string[];
  /**
   * Transfers half-applied whose record is still Pending longer than the bound: an execution
   * terminated, or one waiting for an operator. Their money is out of place until someone acts.
   */
  stalledTransfers: string[];
  drift: WalletDrift[];
  /** Wallet documents found behind a sound ledger (a crash or a race between writers), rolled forward. */
  repaired: string[];
  /** More offending wallets than reported. */
  truncated: boolean;
  ok: boolean;
}

// ---- the activities the workflows call ------------------------------------------------------

export interface WalletActivities {
  /** Opens the transaction's record on its first event, or tells where a transaction seen before stands. */
  openTransaction(opening: TransactionOpening): Promise<RecordedTransaction>;
  /** Applies one leg of a transaction to a wallet, exactly once. */
  applyLeg(change: LegChange): Promise<AppliedLeg>;
  /**
   * Records the transaction's outcome (with the legs its execution applied) and announces it on
   * `transaction.events`, confirmed by the broker.
   */
  publishFinalization(finalized: TransactionFinalized, legs: AppliedLeg[]): Promise<void>;
  /** The reversals that would undo what a transaction still has standing, last applied first. */
  reversalsOf(transactionId: string): Promise<LegChange[]>;
  /** Checks every wallet against its ledger and the platform's money against its top-ups. */
  reconcileLedger(): Promise<ReconciliationReport>;
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
