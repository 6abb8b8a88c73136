import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createActivities, type ActivityDependencies } from '../../activities';
import type { LegChange } from '../../src/domain';
import { InsufficientBalanceError, LedgerContentionError, LedgerInvariantError, LegVoidedError, type LedgerLeg } from '../../src/ledger';

// How the activities turn the ledger's failures into what the workflows branch on: business
// refusals are answers (or, for legacy steps, non-retryable failures), a voided leg is an answer,
// a broken invariant is final, and anything else is thrown as it is for Temporal to retry.

const DEBIT: LegChange = {
  transactionId: '6b0f69b1b707199623ac592a',
  transactionType: 'Transfer',
  leg: 'debit',
  userId: '665f1c2ab7e4a1d2c3b4a5f6',
  amount: -50,
};
const APPLIED: LedgerLeg = {
  leg: { transactionId: DEBIT.transactionId, leg: 'debit', userId: DEBIT.userId, amount: -50, balanceAfter: 10, version: 3 },
  predatesRecord: false,
  undone: false,
};

/** A ledger whose applyLeg answers with `outcome` (an error is thrown), recording every call. */
function ledgerAnswering(outcome: LedgerLeg | Error) {
  const calls: LegChange[] = [];
  const ledger = {
    applyLeg: async (change: LegChange) => {
      calls.push(change);
      if (outcome instanceof Error) throw outcome;
      return outcome;
    },
    voidLeg: () => Promise.reject(new Error('not called here')),
    undoLeg: () => Promise.reject(new Error('not called here')),
    entriesOfTransaction: () => Promise.reject(new Error('not called here')),
    reversalsOf: () => Promise.reject(new Error('not called here')),
  };
  const activities = createActivities({
    ledger,
    records: {} as ActivityDependencies['records'],
    announcer: {} as ActivityDependencies['announcer'],
    rollbackFenceMs: 0,
    reconcile: () => Promise.reject(new Error('not called here')),
    verifyChains: () => Promise.reject(new Error('not called here')),
  });
  return { activities, calls };
}

const inActivity = <R>(run: () => Promise<R>) => new MockActivityEnvironment({ attempt: 1 }).run(run);

describe('the activities, as the workflows see their failures', () => {
  it('answer a forward leg applied with its entry, having asked the ledger once', async () => {
    const { activities, calls } = ledgerAnswering(APPLIED);
    await expect(inActivity(() => activities.applyForwardLeg(DEBIT))).resolves.toEqual({ kind: 'applied', ...APPLIED });
    expect(calls).toEqual([DEBIT]);
  });

  it('answer a business refusal as a value, on the first attempt', async () => {
    const { activities } = ledgerAnswering(new InsufficientBalanceError(DEBIT.userId, 10, -50));
    await expect(inActivity(() => activities.applyForwardLeg(DEBIT))).resolves.toEqual({ kind: 'refused', refusal: 'InsufficientBalance' });
  });

  it('answer a leg voided by a Failed decision as a value', async () => {
    const { activities } = ledgerAnswering(new LegVoidedError(DEBIT.transactionId, DEBIT.userId, 'debit'));
    await expect(inActivity(() => activities.applyForwardLeg(DEBIT))).resolves.toEqual({ kind: 'voided' });
  });

  it('fail a broken ledger invariant for good: a non-retryable failure of its own type', async () => {
    const { activities } = ledgerAnswering(new LedgerInvariantError('wallet says 10, its ledger 20'));
    const failure = await inActivity(() => activities.applyForwardLeg(DEBIT)).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'LedgerInvariantViolation', nonRetryable: true, message: 'wallet says 10, its ledger 20' });
  });

  it('throw an infrastructure failure as it is, for Temporal to retry with backoff', async () => {
    const contention = new LedgerContentionError(DEBIT.userId, 25);
    const { activities } = ledgerAnswering(contention);
    await expect(inActivity(() => activities.applyForwardLeg(DEBIT))).rejects.toBe(contention);
  });

  it('fail a legacy step on a refusal with a non-retryable failure of the refusal type', async () => {
    const { activities } = ledgerAnswering(new InsufficientBalanceError(DEBIT.userId, 10, -50));
    const failure = await inActivity(() => activities.applyLeg(DEBIT)).catch((error: unknown) => error);
    expect(failure).toMatchObject({ type: 'InsufficientBalance', nonRetryable: true });
  });

  it('fail a legacy step on a voided leg with a non-retryable LegVoided', async () => {
    const { activities } = ledgerAnswering(new LegVoidedError(DEBIT.transactionId, DEBIT.userId, 'debit'));
    const failure = await inActivity(() => activities.applyLeg(DEBIT)).catch((error: unknown) => error);
    expect(failure).toMatchObject({ type: 'LegVoided', nonRetryable: true });
  });
});
