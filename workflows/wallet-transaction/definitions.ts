import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { AppliedLeg, FinalStatus, RecordStatus, TransactionCompleted, TransactionFailed, TransactionRejected } from '../../src/domain';

// What the world outside sees of the transaction workflow: its type and ids, its input, the signals
// the bridge and operators send, the query, and how the Temporal UI finds it. The bridge, the worker
// and the operators' commands import this file alone from workflows/.

export const TRANSACTION_WORKFLOW_TYPE = 'walletTransaction';
export const TRANSACTION_REVERSAL_WORKFLOW_TYPE = 'walletReversal';

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
