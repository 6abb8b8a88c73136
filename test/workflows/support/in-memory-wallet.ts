import { ApplicationFailure } from '@temporalio/activity';
import {
  BUSINESS_FAILURE_TYPES,
  type AppliedLeg,
  type LegChange,
  type RecordedTransaction,
  type TransactionFinalized,
  type WalletActivities,
} from '../../../workflows/contract';

/**
 * The workflows' activities over in-memory wallets, for fast specs of the workflows' paths: the
 * same contract (a leg applied once per key, refusals as non-retryable failures, a record whose
 * status only moves forward), none of the servers. `hold` lets a spec act while a leg is in flight.
 */
export class InMemoryWallet {
  readonly balances = new Map<string, number>();
  readonly applied: AppliedLeg[] = [];
  readonly announced: TransactionFinalized[] = [];
  /** Each transaction's recorded outcome, as the record's outcome decisions hold it. */
  readonly records = new Map<string, RecordedTransaction>();
  /** Every applyLeg call, retries included. */
  readonly attempts: LegChange[] = [];
  private readonly held = new Map<string, { reached: () => void; released: Promise<void> }>();

  open(userId: string, balance = 0): string {
    this.balances.set(userId, balance);
    return userId;
  }

  /**
   * Holds the leg of a transaction until `release` is called; `reached` resolves once the leg's
   * activity has arrived.
   */
  hold(transactionId: string, leg: LegChange['leg']): { reached: Promise<void>; release: () => void } {
    let reached!: () => void;
    let release!: () => void;
    const arrival = new Promise<void>((resolve) => (reached = resolve));
    this.held.set(`${transactionId}:${leg}`, { reached, released: new Promise<void>((resolve) => (release = resolve)) });
    return { reached: arrival, release };
  }

  readonly activities: WalletActivities = {
    openTransaction: async (opening) => {
      const recorded = this.records.get(opening.transactionId);
      if (recorded) return recorded;
      this.records.set(opening.transactionId, { status: 'Pending' });
      return { status: 'Pending' };
    },
    applyLeg: async (change) => {
      this.attempts.push(change);
      const gate = this.held.get(`${change.transactionId}:${change.leg}`);
      if (gate) {
        gate.reached();
        await gate.released;
      }
      return this.apply(change);
    },
    // Each outcome recorded, then announced once, however often its step runs.
    publishFinalization: async (finalized) => {
      const { transactionId, status, reason } = finalized;
      this.records.set(transactionId, reason === undefined ? { status } : { status, reason });
      if (!this.announced.some((a) => a.transactionId === transactionId && a.status === status)) this.announced.push(finalized);
    },
    reversalsOf: async (transactionId) => {
      const legs = this.applied.filter((leg) => leg.transactionId === transactionId);
      const undone = new Set(legs.filter((leg) => leg.leg === 'compensation' || leg.leg === 'reversal').map((leg) => leg.userId));
      return legs
        .filter((leg) => (leg.leg === 'debit' || leg.leg === 'credit') && !undone.has(leg.userId))
        .reverse()
        .map((leg) => ({ transactionId, transactionType: 'Transfer', leg: 'reversal', userId: leg.userId, amount: -leg.amount }));
    },
    reconcileLedger: () => Promise.reject(new Error('not part of the workflow specs')),
  };

  legsOf(transactionId: string): Array<[string, string, number]> {
    return this.applied.filter((leg) => leg.transactionId === transactionId).map((leg) => [leg.leg, leg.userId, leg.amount]);
  }

  private apply(change: LegChange): AppliedLeg {
    const existing = this.applied.find(
      (leg) => leg.transactionId === change.transactionId && leg.userId === change.userId && leg.leg === change.leg,
    );
    if (existing) return existing;
    const balance = this.balances.get(change.userId);
    if (balance === undefined) throw refusal(BUSINESS_FAILURE_TYPES.walletNotFound, `user ${change.userId} has no wallet`);
    if (balance + change.amount < 0)
      throw refusal(BUSINESS_FAILURE_TYPES.insufficientBalance, `holds ${balance}, cannot take ${-change.amount}`);
    this.balances.set(change.userId, balance + change.amount);
    const leg: AppliedLeg = { ...change, balanceAfter: balance + change.amount, version: this.applied.length + 1 };
    this.applied.push(leg);
    return leg;
  }
}

function refusal(type: string, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type, message, nonRetryable: true });
}
