import type { BusinessFailureType } from './failures';
import type { TransactionType } from './transactions';

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

/** What applying a leg found: the entry (written now or before), or a business refusal. */
export type LegOutcome = { kind: 'applied'; leg: AppliedLeg; predatesRecord: boolean } | { kind: 'refused'; refusal: BusinessFailureType };
/** What applying a forward leg found: as LegOutcome, or the leg voided by a Failed decision. */
export type ForwardLegOutcome = LegOutcome | { kind: 'voided' };
/** What voiding a forward leg found: it is void for good, or it stands in the ledger (and must be undone). */
export type VoidOutcome = { kind: 'voided' } | { kind: 'standing' };
