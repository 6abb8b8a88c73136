import { Types } from 'mongoose';
import type { ReconciliationReport, ReportedTransaction, WalletDrift } from '../domain';
import type { LedgerEntryDocument, WalletDocument, Ledger, LedgerStore } from '../ledger';
import type { Stores } from '../stores';
import { type TransactionRecordDocument, type TransactionRecords, transactionOfMark } from '../transaction-record/transaction-records';
import {
  WALLET_START,
  type FullPassProgress,
  type PassLease,
  type PassMode,
  type ReconciliationStore,
  type Totals,
  type WalletCheckpoint,
} from './reconciliation-store';
import { judgeTransaction, type TransactionJudgement } from './transaction-check';
import { walkWallet } from './wallet-walk';

/** Offenders reported at most, so a report stays readable (and fits a workflow failure). */
const MAX_REPORTED = 50;
/** Wallets one incremental pass walks at most; the rest wait for the next. */
const MAX_WALLETS_PER_PASS = 50_000;
/** Marked transactions one pass looks at, at most. */
const MAX_TRANSACTIONS_PER_PASS = 100_000;
/** Legs the walk of one pass keeps for judging their transactions, at most (the rest are read by their locations). */
const MAX_WALKED_LEGS = 200_000;
/** Records and legs read at once. */
const READ_BATCH = 16;
/** How often a pass renews its lease, and a full pass saves where it is (so that a retried activity resumes there). */
const SAVE_EVERY_MS = 20_000;

export interface ReconciliationDependencies {
  ledger: LedgerStore;
  records: Pick<TransactionRecords, 'find' | 'statusOf' | 'toReconcile' | 'withoutCompleted'>;
  store: ReconciliationStore;
  /** Brings a wallet document that lags its sound ledger up to date. */
  rollForward: (userId: string) => Promise<unknown>;
}

/** The reconciliation over the service's stores, repairing lagging wallet documents through `ledger`. */
export function reconciliationOver(stores: Stores, ledger: Pick<Ledger, 'rollProjectionForward'>): ReconciliationDependencies {
  return {
    ledger: stores.ledger,
    records: stores.records,
    store: stores.reconciliation,
    rollForward: (userId) => ledger.rollProjectionForward(userId),
  };
}

export interface PassOptions {
  /** Who runs the pass: stable across retries of one run (an activity's id), distinct between runs. */
  owner: string;
  /** A full pass walks every wallet from its first entry; the first pass always is one. */
  mode?: PassMode;
  /** A transaction not final this long after it opened (or not undone this long after it was decided) is stalled. */
  stalledAfterMs: number;
  /** Called as the pass goes (an activity's heartbeat). */
  heartbeat?: (progress: { pass: number; wallets: number; entries: number; userId?: string; version?: number }) => void;
  /** Stops the pass (the activity was cancelled); what it verified stays saved for the next attempt. */
  signal?: AbortSignal;
}

/**
 * One reconciliation pass. Each wallet has a checkpoint, the version and chain hash up to which it was
 * verified, and the platform's totals are the sum of the checkpoints. An incremental pass walks only
 * the wallets touched since their checkpoints (those of the transactions marked since they were last
 * seen settled, and the wallets marked themselves), verifies their new entries, and judges each of
 * those transactions by its record and its legs (read by _id). Its cost is in proportion to what
 * changed, not to the ledger. A full pass walks every wallet from its first entry.
 *
 * Money is conserved when the balances counted equal the money brought in plus the transfer legs
 * counted of transactions not yet settled: every leg is counted against its wallet's checkpoint, so
 * transfers still moving during a long pass are never mistaken for drift. The check needs no pairing
 * of legs in memory: a transaction that breaks it is named by its judgement (unbalanced, stalled)
 * when it has a record; legs applied before records were kept that do not pair show only as money
 * not conserved, by the amount they are off.
 */
export async function reconcile(deps: ReconciliationDependencies, options: PassOptions): Promise<ReconciliationReport> {
  const latest = await deps.store.latestCommitted();
  const requested = latest.mode === null ? 'full' : (options.mode ?? 'incremental');
  const lease = await deps.store.lease(latest.pass + 1, options.owner, requested);
  const pass = new Pass(deps, options, lease, latest.pass);
  const report = lease.mode === 'full' ? await pass.runFull() : await pass.runIncremental(latest.totals);
  await deps.store.noteOutcome({
    pass: report.pass,
    ok: report.ok,
    checkedAt: new Date(report.checkedAt),
    unbalanced: report.unbalanced.length,
    stalled: report.stalled.length,
    drifted: report.drift.length,
  });
  return report;
}

/** A transaction looked at by the pass, and its record (read once). */
interface Looked {
  transactionId: string;
  record: TransactionRecordDocument | null;
}

class Pass {
  /** Where this pass left each wallet it walked (an incremental pass only: a full one walks them all). */
  private readonly reached = new Map<string, WalletCheckpoint>();
  private walkedWallets = 0;
  /** The first offenders, for the report; every wallet in doubt is marked for the next pass as it is found. */
  private readonly drift: WalletDrift[] = [];
  private readonly inDoubt = new Set<string>();
  private readonly repaired: string[] = [];
  /** Wallets without a document: a marked one keeps its mark (it is being opened). */
  private readonly absent = new Set<string>();
  private entries = 0;
  private truncated = false;
  /** Transactions whose transfer legs the walk counted, beyond the marked ones. */
  private readonly seenTransactions = new Set<string>();
  /** Legs the walk verified, by transaction (at most MAX_WALKED_LEGS): most transactions are judged from them. */
  private readonly walkedLegs = new Map<string, LedgerEntryDocument[]>();
  private walkedLegCount = 0;
  private lastSave = Date.now();

  constructor(
    private readonly deps: ReconciliationDependencies,
    private readonly options: PassOptions,
    private readonly lease: PassLease,
    private readonly committedPass: number,
  ) {}

  private get number(): number {
    return this.lease.pass;
  }

  async runIncremental(committed: Totals): Promise<ReconciliationReport> {
    const marked = await this.markedTransactions();
    const markedWallets = this.bounded(
      await this.deps.ledger.walletsToReconcile.list(null, MAX_WALLETS_PER_PASS + 1),
      MAX_WALLETS_PER_PASS,
    );
    const looked = await this.recordsOf([...marked.keys()]);
    const touched = new Set([...markedWallets, ...(await this.partiesOf(looked))]);
    const wallets = this.bounded([...touched].sort(), MAX_WALLETS_PER_PASS);

    const totals = { ...committed };
    const seen = (entry: LedgerEntryDocument) => {
      if (!entry.transactionId) return;
      const transactionId = entry.transactionId.toHexString();
      if (entry.transactionType !== 'TopUp') this.seenTransactions.add(transactionId);
      if (this.walkedLegCount++ < MAX_WALKED_LEGS)
        this.walkedLegs.set(transactionId, [...(this.walkedLegs.get(transactionId) ?? []), entry]);
    };
    for (const userId of wallets) {
      const { committed: base, inPass } = await this.deps.store.checkpointOf(userId, this.committedPass, this.number);
      const reached = await this.walk(userId, inPass ?? base, base, seen);
      totals.totalBalance += reached.balance - base.balance;
      totals.brought += reached.brought - base.brought;
      if (Date.now() - this.lastSave > SAVE_EVERY_MS) await this.renewLease();
    }
    const judged = await this.judge(looked, marked);
    const conserved = this.truncated ? null : totals.totalBalance - totals.brought === judged.inFlight;
    await this.commit(totals);
    await this.settleMarks(judged, markedWallets);
    return this.report(totals, judged, conserved);
  }

  async runFull(): Promise<ReconciliationReport> {
    const progress: FullPassProgress = (await this.deps.store.progressOf(this.number)) ?? {
      after: null,
      totals: { totalBalance: 0, brought: 0 },
      wallets: 0,
      entries: 0,
    };
    const entriesBefore = progress.entries;
    const recordLocations = !(await this.deps.ledger.locationsComplete());
    const markedWallets = await this.deps.ledger.walletsToReconcile.list(null, MAX_WALLETS_PER_PASS);
    const after = progress.after;
    const wallets = this.deps.ledger.wallets
      .find(after === null ? {} : { _id: { $gt: new Types.ObjectId(after) } }, { _id: 1, userId: 1 })
      .sort({ _id: 1 })
      .lean<WalletDocument>()
      .cursor();
    for await (const wallet of wallets) {
      const userId = wallet.userId.toHexString();
      const { inPass } = await this.deps.store.checkpointOf(userId, this.committedPass, this.number);
      const reached = await this.walk(userId, inPass ?? WALLET_START, WALLET_START, undefined, recordLocations);
      progress.after = wallet._id.toHexString();
      progress.totals.totalBalance += reached.balance;
      progress.totals.brought += reached.brought;
      progress.wallets++;
      if (Date.now() - this.lastSave > SAVE_EVERY_MS) await this.saveProgress(progress);
    }
    await this.saveProgress(progress);
    if (this.committedPass === 0) await this.markRecordsNotCompleted();
    const marked = await this.markedTransactions();
    const looked = await this.recordsOf([...marked.keys()]);
    const judged = await this.judge(looked, marked);
    const conserved = this.truncated ? null : progress.totals.totalBalance - progress.totals.brought === judged.inFlight;
    await this.commit(progress.totals);
    if (recordLocations) await this.deps.ledger.markLocationsComplete();
    await this.settleMarks(judged, markedWallets);
    this.entries += entriesBefore;
    return this.report(progress.totals, judged, conserved, progress.wallets);
  }

  /**
   * After the commit: the settled transactions' marks go, the unsettled ones found by the walk are
   * marked; marked wallets walked clean lose their mark, wallets in doubt get one.
   */
  private async settleMarks(judged: Judged, markedWallets: readonly string[]): Promise<void> {
    await this.deps.records.toReconcile.unmark(judged.settled);
    await this.deps.records.toReconcile.mark(judged.kept);
    await this.deps.ledger.walletsToReconcile.unmark(
      markedWallets.filter((userId) => this.walked(userId) && !this.absent.has(userId) && !this.inDoubt.has(userId)),
    );
    await this.deps.ledger.walletsToReconcile.mark([...this.inDoubt]);
  }

  /**
   * Walks a wallet from `from` (its checkpoint, or where this pass got to) and saves how far it
   * verified it: a wallet whose ledger breaks stays at its last sound entry, and is reported.
   */
  private async walk(
    userId: string,
    from: WalletCheckpoint,
    base: WalletCheckpoint,
    onEntry?: (entry: LedgerEntryDocument) => void,
    recordLocations = false,
  ): Promise<WalletCheckpoint> {
    const save = (reached: WalletCheckpoint) => this.deps.store.saveCheckpoint(userId, this.number, reached, base);
    const walked = await walkWallet(this.deps.ledger, userId, from, {
      onEntry,
      heartbeat: ({ version }) =>
        this.options.heartbeat?.({ pass: this.number, wallets: this.walkedWallets, entries: this.entries, userId, version }),
      save: async (reached) => {
        await save(reached);
        await this.renewLease();
      },
      repair: true,
      recordLocations,
      signal: this.options.signal,
    });
    this.entries += walked.entries;
    if (walked.absent) {
      this.absent.add(userId);
      return from;
    }
    await save(walked.reached);
    this.walkedWallets++;
    if (this.lease.mode === 'incremental') this.reached.set(userId, walked.reached);
    if (walked.problem) this.doubt({ userId, problem: walked.problem.problem });
    else await this.checkWalletDocument(userId, walked.reached, walked.headVersion);
    this.options.heartbeat?.({ pass: this.number, wallets: this.walkedWallets, entries: this.entries });
    return walked.reached;
  }

  /** The wallet document must copy its ledger's head: behind a sound ledger it is rolled forward, wrong it is drift. */
  private async checkWalletDocument(userId: string, reached: WalletCheckpoint, headVersion: number): Promise<void> {
    const wallet = await this.deps.ledger.walletOf(userId, { balance: 1, version: 1 });
    if (!wallet) return;
    if (wallet.version < headVersion) {
      await this.deps.rollForward(userId);
      if (this.repaired.length <= MAX_REPORTED) this.repaired.push(userId);
    } else if (wallet.version === reached.version && wallet.balance !== reached.balance) {
      this.doubt({
        userId,
        problem: `wallet says ${wallet.balance} at version ${wallet.version}, its ledger ${reached.balance} at version ${reached.version}`,
      });
    }
  }

  /**
   * Judges the transactions looked at, and those whose transfer legs the walk counted: which are
   * settled (their marks go), which are not, and what the legs counted of the unsettled add up to.
   * Each one's legs are read after its record was, and its status again after them: a transaction
   * whose status moved in between is still moving, never judged on a record older than its legs.
   */
  private async judge(looked: Looked[], marked: ReadonlyMap<string, string[]>): Promise<Judged> {
    const lookedIds = new Set(looked.map((transaction) => transaction.transactionId));
    const counted = await this.recordsOf([...this.seenTransactions].filter((id) => !lookedIds.has(id)));
    const stalledBefore = new Date(Date.now() - this.options.stalledAfterMs);
    const judged: Judged = { settled: [], kept: [], stalled: [], unbalanced: [], inFlight: 0, transactions: 0 };
    const all = [...looked, ...counted];
    for (let from = 0; from < all.length; from += READ_BATCH) {
      this.options.signal?.throwIfAborted();
      const batch = all.slice(from, from + READ_BATCH);
      const verdicts = await Promise.all(batch.map((transaction) => this.judgeOne(transaction, stalledBefore)));
      for (const [i, verdict] of verdicts.entries()) {
        const { transactionId } = batch[i];
        judged.transactions++;
        if (verdict.verdict === 'settled' && verdict.allCounted) {
          judged.settled.push(...(marked.get(transactionId) ?? []));
          continue;
        }
        judged.inFlight += verdict.countedNet;
        if (!marked.has(transactionId)) judged.kept.push(transactionId);
        if (verdict.verdict === 'stalled') judged.stalled.push(verdict.reported);
        if (verdict.verdict === 'unbalanced') judged.unbalanced.push(verdict.reported);
      }
    }
    return judged;
  }

  private async judgeOne({ transactionId, record }: Looked, stalledBefore: Date): Promise<TransactionJudgement> {
    const walked = this.walkedLegs.get(transactionId) ?? [];
    const legs = completedInWalk(record, walked) ? walked : await this.legsOf(transactionId, walked);
    const [countedUpTo, statusNow] = await Promise.all([this.countedVersions(legs), this.deps.records.statusOf(transactionId)]);
    const verdict = judgeTransaction(transactionId, record, legs, countedUpTo, stalledBefore);
    const statusBefore = record?.status ?? 'Pending';
    return statusNow === statusBefore ? verdict : { ...verdict, verdict: 'moving' };
  }

  /**
   * A transaction's legs where their locations say, and those the walk found: a leg walked whose
   * location is missing (its writer died before recording it) has it recorded now.
   */
  private async legsOf(transactionId: string, walked: readonly LedgerEntryDocument[]): Promise<LedgerEntryDocument[]> {
    const located = await this.deps.ledger.entriesLocatedFor(transactionId);
    const ids = new Set(located.map((entry) => entry._id));
    const unlocated = walked.filter((entry) => !ids.has(entry._id));
    await this.deps.ledger.recordLegLocations(unlocated);
    return [...located, ...unlocated];
  }

  /**
   * The version up to which each wallet of these legs is counted into the totals: where this pass
   * left it (a walked wallet's checkpoint is saved under the pass's number), or its committed checkpoint.
   */
  private async countedVersions(legs: readonly LedgerEntryDocument[]): Promise<(userId: string) => number> {
    const users = [...new Set(legs.map((entry) => entry.userId.toHexString()))];
    const counted = await Promise.all(
      users.map(async (userId) => {
        const known = this.reached.get(userId);
        if (known) return known.version;
        const saved = await this.deps.store.checkpointOf(userId, this.committedPass, this.number);
        return (saved.inPass ?? saved.committed).version;
      }),
    );
    const versions = new Map(users.map((userId, i) => [userId, counted[i]]));
    return (userId) => versions.get(userId) ?? 0;
  }

  private async recordsOf(transactionIds: readonly string[]): Promise<Looked[]> {
    const looked: Looked[] = [];
    for (let from = 0; from < transactionIds.length; from += READ_BATCH) {
      this.options.signal?.throwIfAborted();
      const batch = transactionIds.slice(from, from + READ_BATCH);
      const records = await Promise.all(batch.map((transactionId) => this.deps.records.find(transactionId)));
      looked.push(...batch.map((transactionId, i) => ({ transactionId, record: records[i] })));
    }
    return looked;
  }

  /** The first full pass marks every transaction whose record is not Completed: those the marks predate. */
  private async markRecordsNotCompleted(): Promise<void> {
    for await (const page of this.deps.records.withoutCompleted()) {
      this.options.signal?.throwIfAborted();
      await this.deps.records.toReconcile.mark(page);
    }
  }

  /** Saves a full pass's progress: `progress.entries` counts what attempts before this one verified. */
  private async saveProgress(progress: FullPassProgress): Promise<void> {
    await this.deps.store.saveProgress(this.number, { ...progress, entries: progress.entries + this.entries });
    await this.renewLease();
  }

  /** Tells other owners this pass is alive (a lease not renewed for 35 minutes is taken over). */
  private async renewLease(): Promise<void> {
    await this.deps.store.renewLease(this.lease);
    this.lastSave = Date.now();
  }

  /** Commits the pass's totals, once; a pass taken over by another owner is abandoned here. */
  private async commit(totals: Totals): Promise<void> {
    this.options.signal?.throwIfAborted();
    if (!(await this.deps.store.stillHeld(this.lease))) throw new Error(`reconciliation pass ${this.number} was taken over`);
    await this.deps.store.commit(this.number, this.lease.mode, this.options.owner, totals);
    await this.deps.store.noteLatest(this.number);
  }

  /**
   * The marked transactions, each with the marks it has: one from its opening, one from its
   * rollback. A mark is removed only as read, so one put while the pass ran is seen by the next.
   */
  private async markedTransactions(): Promise<Map<string, string[]>> {
    const marks = this.bounded(await this.deps.records.toReconcile.list(null, MAX_TRANSACTIONS_PER_PASS + 1), MAX_TRANSACTIONS_PER_PASS);
    const byTransaction = new Map<string, string[]>();
    for (const mark of marks) {
      const transactionId = transactionOfMark(mark);
      byTransaction.set(transactionId, [...(byTransaction.get(transactionId) ?? []), mark]);
    }
    return byTransaction;
  }

  /** The first `limit` ids; more leaves the rest to the next pass. */
  private bounded(ids: string[], limit: number): string[] {
    if (ids.length <= limit) return ids;
    this.truncated = true;
    return ids.slice(0, limit);
  }

  /** The wallets of the transactions looked at: their record's parties, and where their legs stand. */
  private async partiesOf(looked: Looked[]): Promise<string[]> {
    const parties = looked.flatMap(({ record }) => record?.userIds ?? []);
    const unknown = looked.filter(({ record }) => !record?.userIds.length);
    for (let from = 0; from < unknown.length; from += READ_BATCH) {
      this.options.signal?.throwIfAborted();
      const batch = unknown.slice(from, from + READ_BATCH);
      const legs = await Promise.all(batch.map(({ transactionId }) => this.deps.ledger.entriesLocatedFor(transactionId)));
      parties.push(...legs.flat().map((entry) => entry.userId.toHexString()));
    }
    return parties;
  }

  /** A wallet found wrong: reported (the first ones) and marked to be looked at again by the next pass. */
  private doubt(drift: WalletDrift): void {
    this.inDoubt.add(drift.userId);
    if (this.drift.length <= MAX_REPORTED) this.drift.push(drift);
  }

  /** Whether this pass walked the wallet (a full pass walks every wallet that existed when it began). */
  private walked(userId: string): boolean {
    return this.lease.mode === 'full' || this.reached.has(userId);
  }

  private report(totals: Totals, judged: Judged, conserved: boolean | null, wallets = this.walkedWallets): ReconciliationReport {
    const truncated = this.truncated || [this.drift, judged.unbalanced, judged.stalled].some((listed) => listed.length > MAX_REPORTED);
    return {
      pass: this.number,
      mode: this.lease.mode,
      checkedAt: new Date().toISOString(),
      wallets,
      entries: this.entries,
      transactions: judged.transactions,
      totalBalance: totals.totalBalance,
      toppedUp: totals.brought,
      inFlight: judged.inFlight,
      conserved,
      unbalanced: judged.unbalanced.slice(0, MAX_REPORTED),
      stalled: judged.stalled.slice(0, MAX_REPORTED),
      drift: this.drift.slice(0, MAX_REPORTED),
      repaired: this.repaired.slice(0, MAX_REPORTED),
      truncated,
      ok: this.inDoubt.size === 0 && judged.unbalanced.length === 0 && judged.stalled.length === 0 && conserved !== false,
    };
  }
}

interface Judged {
  /** Marked transactions found settled with every leg counted: their marks go. */
  settled: string[];
  /** Transactions not settled and not marked: marked, so the next pass looks at them. */
  kept: string[];
  stalled: ReportedTransaction[];
  unbalanced: ReportedTransaction[];
  /** What the counted transfer legs of the unsettled transactions add up to. */
  inFlight: number;
  transactions: number;
}

/**
 * A transaction its record holds Completed whose forward legs the walk found, all of them: it has no
 * other leg (an undo needs a later Failed, which the status read after the legs would show).
 */
function completedInWalk(record: TransactionRecordDocument | null, walked: readonly LedgerEntryDocument[]): boolean {
  if (record?.status !== 'Completed' || record.type === null) return false;
  const wanted = record.type === 'TopUp' ? ['credit'] : ['debit', 'credit'];
  return walked.length === wanted.length && wanted.every((leg) => walked.some((entry) => entry.leg === leg));
}
