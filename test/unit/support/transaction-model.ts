import {
  BUSINESS_FAILURE_TYPES,
  processStraightThrough,
  type AnnounceOutcome,
  type AppliedLeg,
  type DecisionPosition,
  type FailedDecision,
  type FinalStatus,
  type ForwardLegOutcome,
  type LegChange,
  type LegOutcome,
  type RecordOpening,
  type RollbackDecision,
  type TransactionCompleted,
  type TransactionDecision,
  type TransactionRecordView,
  type VoidOutcome,
} from '../../../src/domain';
import { runTransaction, TransactionMachine, undoOf, type TransactionStepExecutor } from '../../../workflows/wallet-transaction/machine';
import { randomInt } from '../../support/seeded-random';

// A model of one transaction's world: its record, the ledger of the wallets it touches, the
// broker's announcements and a clock, with the same atomicity as the real stores (each claim of a
// unique key is one atomic step; nothing else is). Runs of the transaction (the real state machine)
// are interleaved at every atomic step by a seeded scheduler that also crashes them, freezes them,
// delivers events in any order and changes the wallets around them.

/**
 * Ticks after which the broker has closed the connection of a frozen process (its heartbeat
 * timeout): an announcement it had checked and not yet published can no longer go out. A rollback's
 * Failed waits this long (plus one) after it is decided, as RollbackDecision.reverseAfter says.
 */
export const CONNECTION_FENCE_TICKS = 40;

/** A run's pending atomic step: resolved by the scheduler, or never (the run crashed). */
interface Gate {
  run: ModelRun;
  resolve: () => void;
}

export interface ModelRun {
  id: number;
  machine: TransactionMachine;
  state: 'running' | 'crashed' | 'done';
  /** The scheduler does not resume a frozen run before this tick. */
  frozenUntil: number;
  /** No crash or freeze: the run that is to settle the transaction in the end. */
  protected: boolean;
}

interface Published {
  status: FinalStatus;
  reason?: string;
  tick: number;
}

/** The broker closed the connection of a process frozen past its heartbeat timeout: the publish fails, the step is retried. */
class ConnectionLost extends Error {}

/** The world of one transaction. */
export class TransactionWorld {
  tick = 0;
  readonly balances = new Map<string, number>();
  readonly initial = new Map<string, number>();
  /** Money brought in by the operator to let a refused reversal through. */
  operatorTopUps = 0;
  opening: { terms: TransactionCompleted | null; reason: string | null } | undefined;
  first: (TransactionDecision & { legs: AppliedLeg[] }) | undefined;
  rollback: RollbackDecision | undefined;
  /** Ledger entries of the transaction by their unique key `<userId>:<leg>`. */
  readonly entries = new Map<string, AppliedLeg>();
  /** Void forward legs, by the same key. */
  readonly voids = new Set<string>();
  readonly published: Published[] = [];
  /** The announcements the broker routed, as the finalization echo records them. */
  readonly delivered = new Set<string>();
  readonly violations: string[] = [];
  readonly runs: ModelRun[] = [];
  /** Completed published after a rollback was decided (it had checked before): the race the fence is for. */
  completedRacedRollback = 0;
  private readonly pending: Gate[] = [];
  /** Announcement attempts that checked the record: the tick they checked at. */
  private readonly checkedAt = new Map<number, number>();

  constructor(
    readonly transactionId: string,
    readonly random: () => number,
  ) {}

  openWallet(userId: string, balance: number): void {
    this.balances.set(userId, balance);
    this.initial.set(userId, balance);
  }

  /** Starts a run that receives `events` (in that order) before its first step. */
  startRun(events: Array<Parameters<TransactionMachine['receive']>[0]>, protectedRun = false): ModelRun {
    const run: ModelRun = {
      id: this.runs.length,
      // Half the runs process a new transaction straight through, as executions started since do.
      machine: new TransactionMachine(this.transactionId, this.random() < 0.5),
      state: 'running',
      frozenUntil: 0,
      protected: protectedRun,
    };
    this.runs.push(run);
    for (const event of events) run.machine.receive(event);
    void runTransaction(run.machine, this.executor(run)).then(
      () => (run.state = 'done'),
      (error: unknown) => {
        run.state = 'crashed';
        if (!(error instanceof Error && error.message === 'crashed')) this.violations.push(`run ${run.id} threw: ${String(error)}`);
      },
    );
    return run;
  }

  /** Resumes one pending run by one atomic step; false when nothing can move now. */
  stepOne(): boolean {
    const ready = this.pending.filter((gate) => gate.run.frozenUntil <= this.tick);
    if (ready.length === 0) return false;
    const gate = ready[randomInt(this.random, 0, ready.length - 1)];
    this.pending.splice(this.pending.indexOf(gate), 1);
    gate.resolve();
    return true;
  }

  get hasPending(): boolean {
    return this.pending.length > 0;
  }

  /** What stands of the transaction: its forward legs applied and not undone. */
  standingForwardLegs(): string[] {
    return (['debit', 'credit'] as const).filter((leg) => {
      const forward = [...this.entries.values()].find((e) => e.leg === leg);
      return (
        forward &&
        ![...this.entries.values()].some((e) => e.userId === forward.userId && (e.leg === 'compensation' || e.leg === 'reversal'))
      );
    });
  }

  /** How many forward legs the terms have (what a Completed must have standing). */
  forwardLegCount(): number {
    const terms = this.opening?.terms;
    return terms ? (terms.type === 'TopUp' ? 1 : 2) : 0;
  }

  /**
   * Every await of a run: the scheduler resumes it when it likes, and may first freeze it (for up
   * to twice the connection fence) or crash it there, so that any two steps can be torn apart.
   */
  private gate(run: ModelRun): Promise<void> {
    if (!run.protected && this.adversary) {
      const roll = this.random();
      if (roll < this.adversary.crash) {
        run.state = 'crashed';
        return new Promise<void>(() => undefined);
      }
      if (roll < this.adversary.crash + this.adversary.freeze)
        run.frozenUntil = this.tick + randomInt(this.random, 1, 2 * CONNECTION_FENCE_TICKS);
    }
    return new Promise<void>((resolve) => this.pending.push({ run, resolve })).then(() => {
      if (run.state === 'crashed') throw new Error('crashed');
    });
  }

  /** How often a run crashes or freezes at an await; none once the world settles. */
  adversary: { crash: number; freeze: number } | undefined = { crash: 0.02, freeze: 0.05 };

  /**
   * The run's steps over the model's stores. Each store operation waits for the scheduler first;
   * a failure that is not a business answer (a lost connection, contention) is retried, as
   * Temporal retries an activity.
   */
  private executor(run: ModelRun): TransactionStepExecutor {
    const atomic = async <T>(operation: () => T): Promise<T> => {
      await this.gate(run);
      const result = operation();
      // The answer may die with the run before it reaches it.
      await this.gate(run);
      return result;
    };
    const retried = async <T>(attempt: () => Promise<T>): Promise<T> => {
      for (;;) {
        try {
          return await attempt();
        } catch (error) {
          if (!(error instanceof ConnectionLost)) throw error;
        }
      }
    };
    return {
      open: (opening) => atomic(() => this.open(opening)),
      // One activity: a failure anywhere in it runs it again from the start.
      straightThrough: (opening) =>
        retried(() =>
          processStraightThrough(opening, {
            open: (again) => atomic(() => this.open(again)),
            apply: (change) => atomic(() => this.applyForward(change)),
            announceCompleted: (legs) => this.announce(run, 'first', { status: 'Completed' }, legs),
          }),
        ),
      adopt: () => Promise.reject(new Error('the model has no ledger from before records')),
      apply: (change) => atomic(() => this.applyForward(change)),
      decide: (position, decision, legs) => atomic(() => this.decide(position, decision, legs)),
      void: (change) => atomic(() => this.voidLeg(change)),
      undo: async (forward, undo) => {
        const change = undoOf(forward, undo);
        for (;;) {
          const outcome = await atomic(() => this.applyUndo(change));
          if (outcome.kind === 'applied') return outcome.leg;
          // Refused (the recipient spent the credit): an operator brings the money back, the step runs again.
          await this.gate(run);
          this.operatorRestores(change);
        }
      },
      wait: async (until) => {
        while (this.tick < Number(until)) await this.gate(run);
      },
      announce: (position, decision, legs) => retried(() => this.announce(run, position, decision, legs)),
    };
  }

  private open(opening: RecordOpening): TransactionRecordView {
    this.opening ??= { terms: opening.terms, reason: opening.reason };
    return this.view();
  }

  private view(): TransactionRecordView {
    return {
      terms: this.opening!.terms,
      openingReason: this.opening!.reason,
      first: this.first ? decisionOf(this.first) : null,
      rollback: this.rollback ?? null,
    };
  }

  private applyForward(change: LegChange): ForwardLegOutcome {
    const key = `${change.userId}:${change.leg}`;
    if (this.voids.has(key)) return { kind: 'voided' };
    return this.applyLeg(change);
  }

  private applyUndo(change: LegChange): LegOutcome {
    return this.applyLeg(change);
  }

  /** One insert under the leg's unique key: the entry found, a refusal, or the entry written. */
  private applyLeg(change: LegChange): LegOutcome {
    const key = `${change.userId}:${change.leg}`;
    const existing = this.entries.get(key);
    if (existing) {
      if (existing.amount !== change.amount) this.violations.push(`leg ${key} applied with ${existing.amount}, asked ${change.amount}`);
      return { kind: 'applied', leg: existing, predatesRecord: false };
    }
    const balance = this.balances.get(change.userId);
    if (balance === undefined) return { kind: 'refused', refusal: BUSINESS_FAILURE_TYPES.walletNotFound };
    if (balance + change.amount < 0) return { kind: 'refused', refusal: BUSINESS_FAILURE_TYPES.insufficientBalance };
    this.balances.set(change.userId, balance + change.amount);
    const leg: AppliedLeg = {
      transactionId: change.transactionId,
      leg: change.leg,
      userId: change.userId,
      amount: change.amount,
      balanceAfter: balance + change.amount,
      version: this.entries.size + 1,
    };
    this.entries.set(key, leg);
    if (change.leg !== 'debit' && change.leg !== 'credit') return { kind: 'applied', leg, predatesRecord: false };
    // A forward leg landing once its transaction is announced Failed is exactly what must never happen.
    const lastAnnounced = this.published.at(-1)?.status;
    if (lastAnnounced === 'Failed') this.violations.push(`${change.leg} landed at tick ${this.tick} after Failed was announced`);
    return { kind: 'applied', leg, predatesRecord: false };
  }

  private voidLeg(change: LegChange): VoidOutcome {
    const key = `${change.userId}:${change.leg}`;
    if (this.entries.has(key)) return { kind: 'standing' };
    this.voids.add(key);
    return { kind: 'voided' };
  }

  private decide(position: DecisionPosition, decision: FailedDecision, legs: AppliedLeg[]): TransactionDecision {
    if (position === 'first') {
      this.first ??= { ...decision, legs };
      return decisionOf(this.first);
    }
    if (this.first?.status !== 'Completed') this.violations.push('a rollback was decided for a transaction that did not complete');
    this.rollback ??= { ...decision, reverseAfter: String(this.tick + CONNECTION_FENCE_TICKS + 1) };
    return this.rollback;
  }

  /**
   * The real announcer's steps: record the decision (a Completed is decided here; the insert that
   * claims it is the announcement's first attempt), ask the echo whether an earlier attempt got
   * through, check that nothing superseded it, publish.
   */
  private async announce(
    run: ModelRun,
    position: DecisionPosition,
    decision: TransactionDecision,
    legs: AppliedLeg[],
  ): Promise<AnnounceOutcome> {
    await this.gate(run);
    let firstAttempt = false;
    if (position === 'first' && !this.first) {
      this.first = { ...decision, legs };
      firstAttempt = true;
    }
    const standing = position === 'first' ? this.first : this.rollback;
    if (!standing || standing.status !== decision.status) return { kind: 'superseded' };
    const key = `${position}:${decision.status}`;
    if (!firstAttempt) {
      await this.gate(run);
      if (this.delivered.has(key)) return { kind: 'announced' };
    }
    await this.gate(run);
    if (position === 'first' && this.rollback) return { kind: 'superseded' };
    this.checkedAt.set(run.id, this.tick);
    await this.gate(run);
    if (this.tick - this.checkedAt.get(run.id)! > CONNECTION_FENCE_TICKS) throw new ConnectionLost();
    if (decision.status === 'Completed' && this.rollback) this.completedRacedRollback++;
    this.publish(decision);
    this.delivered.add(key);
    await this.gate(run);
    return { kind: 'announced' };
  }

  private publish(decision: TransactionDecision): void {
    const standing = this.standingForwardLegs();
    if (decision.status === 'Failed' && standing.length > 0) {
      this.violations.push(`Failed announced at tick ${this.tick} while ${standing.join(', ')} stood`);
    }
    if (decision.status === 'Completed' && (standing.length !== this.forwardLegCount() || this.hasUndo())) {
      this.violations.push(`Completed announced at tick ${this.tick} while standing: [${standing.join(', ')}]`);
    }
    this.published.push({ status: decision.status, ...(decision.status === 'Failed' ? { reason: decision.reason } : {}), tick: this.tick });
  }

  private hasUndo(): boolean {
    return [...this.entries.values()].some((e) => e.leg === 'compensation' || e.leg === 'reversal');
  }

  private operatorRestores(change: LegChange): void {
    const balance = this.balances.get(change.userId) ?? 0;
    const missing = -change.amount - balance;
    if (missing > 0) {
      this.balances.set(change.userId, balance + missing);
      this.operatorTopUps += missing;
    }
  }
}

function decisionOf(recorded: TransactionDecision & { legs?: AppliedLeg[] }): TransactionDecision {
  return recorded.status === 'Completed' ? { status: 'Completed' } : { status: 'Failed', reason: recorded.reason, undo: recorded.undo };
}
