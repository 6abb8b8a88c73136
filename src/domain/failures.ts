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
