import type { TransactionActivities, WalletActivities } from '../../../activities';
import {
  BUSINESS_FAILURE_TYPES,
  processStraightThrough,
  type AppliedLeg,
  type DecisionPosition,
  type LegChange,
  type LegOutcome,
  type RollbackDecision,
  type TransactionCompleted,
  type TransactionDecision,
  type TransactionFinalized,
  type TransactionRecordView,
} from '../../../src/domain';

interface InMemoryRecord {
  terms: TransactionCompleted | null;
  openingReason: string | null;
  first?: TransactionDecision;
  rollback?: RollbackDecision;
}

/**
 * The transaction steps over in-memory wallets, for fast specs of the workflow's paths: the same
 * contract (a leg applied once per key, a void holding a forward leg's key, a decision once per
 * position, refusals as answers), none of the servers. It records every call; `announced` holds
 * every announcement the workflow asked for (the real announcer's own deduplication is the
 * announcer spec's). `hold` lets a spec act while a step is in flight.
 */
export class InMemoryWallet {
  readonly balances = new Map<string, number>();
  readonly records = new Map<string, InMemoryRecord>();
  /** Entries by their key `<transactionId>:<userId>:<leg>`, in the order written. */
  readonly entries = new Map<string, AppliedLeg>();
  readonly voids = new Set<string>();
  readonly announced: TransactionFinalized[] = [];
  /** Every call, retries included: the activity's name and its first argument (the steps within straight-through processing too). */
  readonly calls: Array<{ activity: keyof TransactionActivities; transactionId: string; detail?: string; at: number }> = [];
  /** How long a rollback waits before it moves money back. */
  rollbackFenceMs = 0;
  private readonly held = new Map<string, { reached: () => void; released: Promise<void> }>();

  /** `now` is the clock calls and rollback fences are stamped by: the server's, where time is skipped. */
  constructor(private readonly now: () => number | Promise<number> = Date.now) {}

  open(userId: string, balance = 0): string {
    this.balances.set(userId, balance);
    return userId;
  }

  /**
   * Holds a step of a transaction (`applyForwardLeg:debit`, `undoLeg:credit`, `announceOutcome`...)
   * until `release` is called; `reached` resolves once the step's activity has arrived.
   */
  hold(transactionId: string, step: string): { reached: Promise<void>; release: () => void } {
    let reached!: () => void;
    let release!: () => void;
    const arrival = new Promise<void>((resolve) => (reached = resolve));
    this.held.set(`${transactionId}:${step}`, { reached, released: new Promise<void>((resolve) => (release = resolve)) });
    return { reached: arrival, release };
  }

  legsOf(transactionId: string): Array<[string, string, number]> {
    return [...this.entries.values()].filter((leg) => leg.transactionId === transactionId).map((leg) => [leg.leg, leg.userId, leg.amount]);
  }

  callsOf(transactionId: string, activity: keyof TransactionActivities): number {
    return this.calls.filter((call) => call.transactionId === transactionId && call.activity === activity).length;
  }

  readonly activities: WalletActivities = {
    openRecord: async (opening) => {
      this.calls.push({ activity: 'openRecord', transactionId: opening.transactionId, at: await this.now() });
      if (!this.records.has(opening.transactionId)) {
        this.records.set(opening.transactionId, { terms: opening.terms, openingReason: opening.terms ? null : opening.reason });
      }
      return this.view(opening.transactionId);
    },
    processStraightThrough: async (opening) => {
      this.calls.push({ activity: 'processStraightThrough', transactionId: opening.transactionId, at: await this.now() });
      const { openRecord, applyForwardLeg, announceOutcome } = this.activities;
      return processStraightThrough(opening, {
        open: openRecord,
        apply: applyForwardLeg,
        announceCompleted: (legs) => announceOutcome(opening.transactionId, 'first', { status: 'Completed' }, legs),
      });
    },
    adoptLedger: () => Promise.reject(new Error('no ledger from before records here')),
    applyForwardLeg: async (change) => {
      await this.step(change.transactionId, 'applyForwardLeg', change.leg);
      if (this.voids.has(keyOf(change))) return { kind: 'voided' };
      return this.apply(change);
    },
    recordDecision: async (transactionId, position, decision) => {
      await this.step(transactionId, 'recordDecision', position);
      const record = this.records.get(transactionId)!;
      if (position === 'first') return (record.first ??= decision);
      const now = await this.now();
      return (record.rollback ??= { ...decision, reverseAfter: new Date(now + this.rollbackFenceMs).toISOString() });
    },
    voidLeg: async (change) => {
      await this.step(change.transactionId, 'voidLeg', change.leg);
      if (this.entries.has(keyOf(change))) return { kind: 'standing' };
      this.voids.add(keyOf(change));
      return { kind: 'voided' };
    },
    undoLeg: async (forward, undo) => {
      await this.step(forward.transactionId, 'undoLeg', forward.leg);
      if (!this.entries.has(keyOf(forward))) throw new Error(`undo of ${keyOf(forward)}, which is not in the ledger`);
      return this.apply({ ...forward, leg: undo, amount: -forward.amount });
    },
    announceOutcome: async (transactionId, position, decision) => {
      await this.step(transactionId, 'announceOutcome', position);
      const record = this.records.get(transactionId)!;
      if (position === 'first' && decision.status === 'Completed') record.first ??= decision;
      const standing = position === 'first' ? record.first : record.rollback;
      if (standing?.status !== decision.status || (decision.status === 'Completed' && record.rollback)) return { kind: 'superseded' };
      this.announced.push(
        decision.status === 'Failed'
          ? { transactionId, status: 'Failed', reason: decision.reason }
          : { transactionId, status: 'Completed' },
      );
      return { kind: 'announced' };
    },
    reconcileLedger: () => Promise.reject(new Error('not part of the workflow specs')),
    verifyLedgerSlice: () => Promise.reject(new Error('not part of the workflow specs')),
    openTransaction: () => Promise.reject(new Error('legacy executions are not part of the workflow specs')),
    applyLeg: () => Promise.reject(new Error('legacy executions are not part of the workflow specs')),
    publishFinalization: () => Promise.reject(new Error('legacy executions are not part of the workflow specs')),
    reversalsOf: () => Promise.reject(new Error('legacy executions are not part of the workflow specs')),
  };

  /** What the record holds for a transaction: a spec sets a decision as a run that died left it. */
  decide(transactionId: string, position: DecisionPosition, decision: TransactionDecision): void {
    const record = this.records.get(transactionId)!;
    if (position === 'first') record.first = decision;
    else record.rollback = { ...(decision as RollbackDecision), reverseAfter: new Date().toISOString() };
  }

  private view(transactionId: string): TransactionRecordView {
    const { terms, openingReason, first, rollback } = this.records.get(transactionId)!;
    return { terms, openingReason, first: first ?? null, rollback: rollback ?? null };
  }

  private async step(transactionId: string, activity: keyof TransactionActivities, detail: string): Promise<void> {
    this.calls.push({ activity, transactionId, detail, at: await this.now() });
    const gate = this.held.get(`${transactionId}:${activity}:${detail}`);
    if (gate) {
      gate.reached();
      await gate.released;
    }
  }

  private apply(change: LegChange): LegOutcome {
    const existing = this.entries.get(keyOf(change));
    if (existing) return { kind: 'applied', leg: existing, predatesRecord: false };
    const balance = this.balances.get(change.userId);
    if (balance === undefined) return { kind: 'refused', refusal: BUSINESS_FAILURE_TYPES.walletNotFound };
    if (balance + change.amount < 0) return { kind: 'refused', refusal: BUSINESS_FAILURE_TYPES.insufficientBalance };
    this.balances.set(change.userId, balance + change.amount);
    const leg: AppliedLeg = { ...change, balanceAfter: balance + change.amount, version: this.entries.size + 1 };
    this.entries.set(keyOf(change), leg);
    return { kind: 'applied', leg, predatesRecord: false };
  }
}

function keyOf(change: LegChange): string {
  return `${change.transactionId}:${change.userId}:${change.leg}`;
}
