// The wallet's vocabulary for transactions. Pure types and constants with no imports, so that the
// deterministic workflow code, the activities, the ledger and the RabbitMQ bridge share one home.

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

/** `transaction.failed`: the platform abandoned the transaction; undo whatever the wallet applied. */
export interface TransactionFailed {
  transactionId: string;
  type: TransactionType;
  reason: string;
}

export type FinalStatus = 'Completed' | 'Failed';

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

/** Reasons the wallet gives in `wallet.transactionFinalized` for its own business failures. */
export const FAILURE_REASONS = {
  insufficientBalance: 'Insufficient balance',
  walletNotFound: 'Wallet not found',
  senderWalletNotFound: 'Sender wallet not found',
  recipientWalletNotFound: 'Recipient wallet not found',
  balanceLimitExceeded: 'Balance limit exceeded',
} as const;

/** Error types shared by activities (which throw them) and workflows (which branch on them). */
export const BUSINESS_FAILURE_TYPES = {
  insufficientBalance: 'InsufficientBalance',
  walletNotFound: 'WalletNotFound',
  balanceLimitExceeded: 'BalanceLimitExceeded',
} as const;
export type BusinessFailureType = (typeof BUSINESS_FAILURE_TYPES)[keyof typeof BUSINESS_FAILURE_TYPES];

/** A ledger invariant broke: never retried automatically, the workflow waits for an operator. */
export const LEDGER_INVARIANT_FAILURE_TYPE = 'LedgerInvariantViolation';
