// The wallet's vocabulary for transactions. Pure types and constants with no imports, so that the
// deterministic workflow code, the activities, the ledger and the RabbitMQ bridge share one home.

export const TRANSACTION_TYPES = ['TopUp', 'Transfer'] as const;
export type TransactionType = (typeof TRANSACTION_TYPES)[number];

/** Accepted amounts per transaction type, in minor units (configuration; the platform's by default). */
export interface AmountLimits {
  topUp: { min: number; max: number };
  transfer: { min: number; max: number };
}

/** What the transactions service itself accepts (CONTRACT.md). */
export const PLATFORM_AMOUNT_LIMITS: AmountLimits = { topUp: { min: 1, max: 100_000 }, transfer: { min: 1, max: 50_000 } };

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

/** `transaction.failed`: the platform abandoned the transaction; undo whatever the wallet applied. */
export interface TransactionFailed {
  transactionId: string;
  type: TransactionType;
  reason: string;
}

export type FinalStatus = 'Completed' | 'Failed';

/**
 * A `transaction.completed` the wallet refused to apply (a bad amount, a transfer to oneself, an
 * unknown type...) although it names a valid transactionId: the transaction still gets a final
 * status, `Failed` with this reason, so that the platform does not show it pending for ever.
 */
export interface TransactionRejected {
  transactionId: string;
  reason: string;
}

/** `wallet.transactionFinalized`, the wallet's announcement of a transaction's outcome. */
export interface TransactionFinalized {
  transactionId: string;
  status: FinalStatus;
  reason?: string;
}

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

/** Where a transaction stands in its durable transaction record (see persistence/transaction-record). */
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

/**
 * Whether an event can still change a transaction whose record stands at `status`: a final
 * transaction is final for good, but a transfer or top-up that ended `Completed` can still be
 * rolled back by `transaction.failed`. The bridge and the operators' commands decide by this.
 */
export function eventCanChange(event: 'completed' | 'failed' | 'rejected', status: RecordStatus | undefined): boolean {
  if (status === undefined || status === 'Pending') return true;
  return event === 'failed' && status === 'Completed';
}

/** The reason a `Failed` announcement carries: never empty (the platform requeues such a message for ever). */
export function failureReason(reason: string | null | undefined): string {
  const trimmed = reason?.trim();
  return trimmed ? trimmed : FAILURE_REASONS.transactionFailed;
}

/** The announcement as the platform must receive it: a `Failed` always with a reason, a `Completed` without. */
export function toAnnouncement(finalized: TransactionFinalized): TransactionFinalized {
  const { transactionId, status } = finalized;
  return status === 'Failed' ? { transactionId, status, reason: failureReason(finalized.reason) } : { transactionId, status };
}

/** Reasons the wallet gives in `wallet.transactionFinalized` for its own business failures. */
export const FAILURE_REASONS = {
  insufficientBalance: 'Insufficient balance',
  walletNotFound: 'Wallet not found',
  senderWalletNotFound: 'Sender wallet not found',
  recipientWalletNotFound: 'Recipient wallet not found',
  balanceLimitExceeded: 'Balance limit exceeded',
  transactionFailed: 'Transaction failed',
} as const;

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
