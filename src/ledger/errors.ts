import { BUSINESS_FAILURE_TYPES, type BusinessFailureType } from '../domain';

/** A business rule refused a balance change; retrying cannot help. */
export abstract class BusinessRuleError extends Error {
  abstract readonly failureType: BusinessFailureType;
}

export class InsufficientBalanceError extends BusinessRuleError {
  readonly failureType = BUSINESS_FAILURE_TYPES.insufficientBalance;
  constructor(
    readonly userId: string,
    readonly balance: number,
    readonly amount: number,
  ) {
    super(`wallet of user ${userId} holds ${balance}, cannot take ${-amount}`);
    this.name = 'InsufficientBalanceError';
  }
}

export class WalletNotFoundError extends BusinessRuleError {
  readonly failureType = BUSINESS_FAILURE_TYPES.walletNotFound;
  constructor(readonly userId: string) {
    super(`user ${userId} has no wallet`);
    this.name = 'WalletNotFoundError';
  }
}

export class BalanceLimitExceededError extends BusinessRuleError {
  readonly failureType = BUSINESS_FAILURE_TYPES.balanceLimitExceeded;
  constructor(readonly userId: string) {
    super(`wallet of user ${userId} would exceed the largest exact balance (${Number.MAX_SAFE_INTEGER})`);
    this.name = 'BalanceLimitExceededError';
  }
}

/** A Failed decision voided this forward leg before it was applied: it can never be applied now. */
export class LegVoidedError extends Error {
  constructor(
    readonly transactionId: string,
    readonly userId: string,
    readonly leg: string,
  ) {
    super(`transaction ${transactionId}: the ${leg} of user ${userId} was voided by the transaction's Failed decision`);
    this.name = 'LegVoidedError';
  }
}

/** The ledger contradicts itself: a bug or corruption that needs a human, never an automatic retry. */
export class LedgerInvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LedgerInvariantError';
  }
}

/** Too many writers raced for the same wallet; an infrastructure condition, retried by Temporal. */
export class LedgerContentionError extends Error {
  constructor(
    readonly userId: string,
    attempts: number,
  ) {
    super(`wallet of user ${userId}: version conflict persisted after ${attempts} attempts`);
    this.name = 'LedgerContentionError';
  }
}

/**
 * A leg known to be applied was not found where its location or the lookback says: its writer died
 * before recording its location and the wallet moved on. Retried: the reconciliation records the
 * locations of the entries it walks.
 */
export class LegNotLocatedError extends Error {
  constructor(
    readonly transactionId: string,
    readonly userId: string,
    readonly leg: string,
  ) {
    super(`transaction ${transactionId}: the ${leg} of user ${userId} is applied but its location is not recorded yet`);
    this.name = 'LegNotLocatedError';
  }
}
