import type { ReportedTransaction } from '../domain';
import type { LedgerEntryDocument } from '../ledger';
import type { TransactionRecordDocument } from '../transaction-record/transaction-records';

/**
 * What a transaction's record and its standing legs say together:
 * - `settled`: final, and its legs match its status (Completed: every forward leg stands and none is
 *   undone; Failed: every forward leg that stands is undone);
 * - `moving`: not there yet, within the bound;
 * - `stalled`: not there yet, past the bound (not final since it opened, or Failed and not undone since it was decided);
 * - `unbalanced`: Completed and its legs disagree, or, without a record, they do not net to zero.
 */
export type Verdict = 'settled' | 'moving' | 'stalled' | 'unbalanced';

export interface TransactionJudgement {
  verdict: Verdict;
  /** What its transfer legs counted into the totals add up to (top-ups count as money brought in, not here). */
  countedNet: number;
  /** Whether every standing leg is counted into the totals (at or below its wallet's checkpoint). */
  allCounted: boolean;
  reported: ReportedTransaction;
}

/**
 * Judges one transaction from its record (null when it has none) and its legs as they stand.
 * `countedUpTo` is the version up to which each wallet is counted into the totals.
 */
export function judgeTransaction(
  transactionId: string,
  record: TransactionRecordDocument | null,
  legs: readonly LedgerEntryDocument[],
  countedUpTo: (userId: string) => number,
  stalledBefore: Date,
): TransactionJudgement {
  const counted = legs.filter((entry) => entry.version <= countedUpTo(entry.userId.toHexString()));
  const countedNet = counted.filter((entry) => entry.transactionType !== 'TopUp').reduce((sum, entry) => sum + entry.amount, 0);
  const reported: ReportedTransaction = {
    transactionId,
    type: record?.type ?? legs[0]?.transactionType ?? null,
    status: record?.status ?? 'Unrecorded',
    openedAt: record?.openedAt.toISOString() ?? null,
    standing: legs.map((entry) => ({ leg: entry.leg, userId: entry.userId.toHexString(), amount: entry.amount, version: entry.version })),
  };
  const judged = (verdict: Verdict): TransactionJudgement => ({
    verdict,
    countedNet,
    allCounted: counted.length === legs.length,
    reported,
  });
  if (!record) return judged(legs.reduce((sum, entry) => sum + entry.amount, 0) === 0 || !isTransfer(legs) ? 'settled' : 'unbalanced');
  if (record.status === 'Pending') return judged(record.openedAt < stalledBefore ? 'stalled' : 'moving');
  const standingForward = legs.filter((entry) => (entry.leg === 'debit' || entry.leg === 'credit') && !isUndone(entry, legs));
  const decidedAt = record.updatedAt;
  if (record.status === 'Failed') {
    if (standingForward.length === 0) return judged('settled');
    return judged(decidedAt < stalledBefore ? 'stalled' : 'moving');
  }
  // Completed is decided once every leg stands: nothing of it is still moving.
  return judged(completedAsAgreed(record, legs, standingForward) ? 'settled' : 'unbalanced');
}

function isTransfer(legs: readonly LedgerEntryDocument[]): boolean {
  return legs.some((entry) => entry.transactionType === 'Transfer');
}

function isUndone(forward: LedgerEntryDocument, legs: readonly LedgerEntryDocument[]): boolean {
  return legs.some(
    (entry) =>
      (entry.leg === 'compensation' || entry.leg === 'reversal') && entry.userId.equals(forward.userId) && entry.amount === -forward.amount,
  );
}

/** Completed: the legs its terms call for stand, with their amounts, and nothing else moved. */
function completedAsAgreed(
  record: TransactionRecordDocument,
  legs: readonly LedgerEntryDocument[],
  standingForward: readonly LedgerEntryDocument[],
): boolean {
  if (legs.some((entry) => entry.leg === 'compensation' || entry.leg === 'reversal')) return false;
  const wanted = record.type === 'TopUp' ? ['credit'] : ['debit', 'credit'];
  if (standingForward.length !== wanted.length || !wanted.every((leg) => standingForward.some((entry) => entry.leg === leg))) return false;
  if (record.type === 'Transfer' && standingForward.reduce((sum, entry) => sum + entry.amount, 0) !== 0) return false;
  return record.amount === null || standingForward.every((entry) => Math.abs(entry.amount) === record.amount);
}
