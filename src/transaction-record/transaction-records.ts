import type { Connection, mongo } from 'mongoose';
import type { TransactionOpening } from '../../activities';
import {
  FAILURE_REASONS,
  partiesOf,
  type DecisionPosition,
  type FailedDecision,
  type FinalStatus,
  type RecordOpening,
  type RecordStatus,
  type RollbackDecision,
  type TransactionCompleted,
  type TransactionDecision,
  type TransactionRecordView,
  type TransactionType,
  type UndoLeg,
} from '../domain';
import { createCollection } from '../database/connection';
import { GroupedInserts } from '../database/group-commit';
import { MarkSet } from '../database/mark-set';

export interface RecordedOutcome {
  status: FinalStatus;
  reason: string | null;
  at: Date;
}

/** One transaction as the wallet handled it, kept as long as the ledger: the wallet's own idempotency key. */
export interface TransactionRecordDocument {
  /** The transactionId (lower-case hex). */
  _id: string;
  type: TransactionType | null;
  userIds: string[];
  amount: number | null;
  /** Why a transaction opened without terms fails (its first event's reason). */
  openingReason: string | null;
  status: RecordStatus;
  /** The reason of the latest decision when it is `Failed`. */
  reason: string | null;
  /** Every decision, in order: `Completed`, `Failed`, or `Completed` then `Failed`. */
  outcomes: RecordedOutcome[];
  openedAt: Date;
  updatedAt: Date;
}

/**
 * What is stored of a transaction when it opens: written once by the first run, never updated.
 * Its terms are the type, parties and amount of its `transaction.completed`; a transaction opened
 * by another event has none, and the reason it fails. (Records from before outcomes carried their
 * legs also hold `legs`; they are still read.)
 */
interface OpeningDocument {
  _id: string;
  type: TransactionType | null;
  userIds: string[];
  amount: number | null;
  reason?: string | null;
  openedAt: Date;
}

/** The decision at a position of a transaction: `<transactionId>:1` (first) or `:2` (rollback). */
interface OutcomeDocument extends RecordedOutcome {
  _id: string;
  transactionId: string;
  /** The undo leg of a Failed (absent on decisions recorded before it was kept: see undoOf). */
  undo?: UndoLeg;
  /** A rollback's: no money moves back, nor is its Failed announced, before then. */
  reverseAfter?: Date;
}

/** Records whose status is read at once when every record is looked at. */
const STATUS_READS_AT_ONCE = 32;

const POSITION_NUMBERS: Record<DecisionPosition, number> = { first: 1, rollback: 2 };

/** The reasons of the wallet's own refusals: a Failed for one of them undid its legs by compensation. */
const REFUSAL_REASONS: ReadonlySet<string> = new Set([
  FAILURE_REASONS.insufficientBalance,
  FAILURE_REASONS.walletNotFound,
  FAILURE_REASONS.senderWalletNotFound,
  FAILURE_REASONS.recipientWalletNotFound,
  FAILURE_REASONS.balanceLimitExceeded,
]);

/**
 * The transaction record: one document per transactionId (its `_id`), inserted when the
 * transaction's first event is handled, and one document per decision. A decision is recorded by
 * inserting it at its position into `transaction_outcomes`: the unique `_id` lets exactly one run
 * decide each position, on FerretDB (which reads then rewrites an update) as on MongoDB, and every
 * other run reads it back and follows it. Nothing is updated in place. All reads and writes are by
 * `_id`, the only lookup FerretDB serves from an index.
 */
export class TransactionRecords {
  private readonly openings: mongo.Collection<OpeningDocument>;
  private readonly outcomeCollection: mongo.Collection<OutcomeDocument>;
  /** Concurrent transactions' openings, one insert for all those opened while another is in flight. */
  private readonly openingInserts: GroupedInserts<OpeningDocument>;
  /** The same for decisions. */
  private readonly outcomeInserts: GroupedInserts<OutcomeDocument>;
  /**
   * The transactions the reconciliation has not yet seen settled: each is marked when it opens and
   * when a rollback is decided, and stays marked until the reconciliation finds its legs matching its
   * final status.
   */
  readonly toReconcile: MarkSet;

  constructor(private readonly connection: Connection) {
    this.openings = connection.collection<OpeningDocument>('transaction_records');
    this.outcomeCollection = connection.collection<OutcomeDocument>('transaction_outcomes');
    this.openingInserts = new GroupedInserts(this.openings);
    this.outcomeInserts = new GroupedInserts(this.outcomeCollection);
    this.toReconcile = new MarkSet(connection, 'transactions_to_reconcile');
  }

  async ensureCollections(): Promise<void> {
    await Promise.all([
      createCollection(this.connection, 'transaction_records'),
      createCollection(this.connection, 'transaction_outcomes'),
      this.toReconcile.ensureCollection(),
    ]);
  }

  /**
   * Every transaction whose latest decision is not Completed, a page at a time (a scan of every
   * record: run once, when the reconciliation first takes the ledger over).
   */
  async *withoutCompleted(): AsyncGenerator<string[]> {
    let page: string[] = [];
    const notCompleted = async (ids: string[]) => {
      const statuses = await Promise.all(ids.map((id) => this.statusOf(id)));
      return ids.filter((_, i) => statuses[i] !== 'Completed');
    };
    for await (const opening of this.openings.find({}, { projection: { _id: 1 } })) {
      page.push(opening._id);
      if (page.length < STATUS_READS_AT_ONCE) continue;
      yield await notCompleted(page);
      page = [];
    }
    yield await notCompleted(page);
  }

  /**
   * Opens the record of a transaction seen for the first time, with what its first event says, and
   * returns the record as it stands (a record just opened holds no decision: it is not read back).
   */
  async open(opening: RecordOpening): Promise<TransactionRecordView> {
    const { terms } = opening;
    const [opened] = await Promise.all([
      this.openingInserts.insertOnce({
        _id: opening.transactionId,
        type: terms?.type ?? opening.type,
        userIds: terms ? partiesOf(terms) : [],
        amount: terms?.amount ?? null,
        reason: terms ? null : opening.reason,
        openedAt: new Date(),
      }),
      this.toReconcile.mark([opening.transactionId]),
    ]);
    if (opened) return { terms, openingReason: terms ? null : opening.reason, first: null, rollback: null };
    const view = await this.view(opening.transactionId);
    if (!view) throw new Error(`the record of transaction ${opening.transactionId} vanished after it was found taken`);
    return view;
  }

  /** The record as a run follows it; null for a transaction never opened. */
  async view(transactionId: string): Promise<TransactionRecordView | null> {
    const [opening, first, rollback] = await Promise.all([
      this.openings.findOne({ _id: transactionId }),
      this.outcomeAt(transactionId, 'first'),
      this.outcomeAt(transactionId, 'rollback'),
    ]);
    if (!opening) return null;
    return {
      terms: termsOf(opening),
      openingReason: opening.reason ?? null,
      first: first && decisionOf(first, 'first'),
      rollback: rollback && (decisionOf(rollback, 'rollback') as RollbackDecision),
    };
  }

  /**
   * Records a Failed decision at its position unless another is there, and returns the decision
   * that stands there. A rollback carries the instant before which it moves no money back.
   */
  async decideFailed(
    transactionId: string,
    position: DecisionPosition,
    decision: FailedDecision,
    reverseAfter?: Date,
  ): Promise<TransactionDecision> {
    const { outcome } = await this.claim(transactionId, position, decision, reverseAfter);
    return decisionOf(outcome, position);
  }

  /** Records the Completed decision unless another is first; `claimed` when this call recorded it. */
  async decideCompleted(transactionId: string): Promise<{ claimed: boolean; standing: TransactionDecision }> {
    const { claimed, outcome } = await this.claim(transactionId, 'first', { status: 'Completed' });
    return { claimed, standing: decisionOf(outcome, 'first') };
  }

  /** The decision at a position, if one was recorded. */
  async decisionAt(transactionId: string, position: DecisionPosition): Promise<TransactionDecision | null> {
    const outcome = await this.outcomeAt(transactionId, position);
    return outcome && decisionOf(outcome, position);
  }

  /** Whether a Completed still stands: nothing follows a Failed, and only a rollback follows a Completed. */
  async isLatest(transactionId: string, status: FinalStatus): Promise<boolean> {
    return status === 'Failed' || (await this.outcomeAt(transactionId, 'rollback')) === null;
  }

  /** The record, its status and outcomes (its legs are the ledger's); null for a transaction never seen. */
  async find(transactionId: string): Promise<TransactionRecordDocument | null> {
    const [opening, ...outcomes] = await Promise.all([
      this.openings.findOne({ _id: transactionId }),
      this.outcomeAt(transactionId, 'first'),
      this.outcomeAt(transactionId, 'rollback'),
    ]);
    const decided = outcomes.filter((outcome): outcome is OutcomeDocument => outcome !== null);
    if (!opening && decided.length === 0) return null;
    const latest = decided.at(-1);
    const openedAt = opening?.openedAt ?? decided[0].at;
    return {
      _id: transactionId,
      type: opening?.type ?? null,
      userIds: opening?.userIds ?? [],
      amount: opening?.amount ?? null,
      openingReason: opening?.reason ?? null,
      status: latest?.status ?? 'Pending',
      reason: latest?.reason ?? null,
      outcomes: decided.map(({ status, reason, at }) => ({ status, reason, at })),
      openedAt,
      updatedAt: latest?.at ?? openedAt,
    };
  }

  /** The latest decision's status, Pending before any (only a Completed can be followed by a rollback). */
  async statusOf(transactionId: string): Promise<RecordStatus> {
    const first = await this.outcomeAt(transactionId, 'first');
    if (first?.status !== 'Completed') return first?.status ?? 'Pending';
    return (await this.outcomeAt(transactionId, 'rollback'))?.status ?? 'Completed';
  }

  /** Takes a position; when another decision holds it, returns that one. */
  private async claim(
    transactionId: string,
    position: DecisionPosition,
    decision: TransactionDecision,
    reverseAfter?: Date,
  ): Promise<{ claimed: boolean; outcome: OutcomeDocument }> {
    const outcome: OutcomeDocument = {
      _id: outcomeIdOf(transactionId, position),
      transactionId,
      status: decision.status,
      reason: decision.status === 'Failed' ? decision.reason : null,
      ...(decision.status === 'Failed' ? { undo: decision.undo } : {}),
      ...(reverseAfter ? { reverseAfter } : {}),
      at: new Date(),
    };
    // A rollback moves money again after the reconciliation may have seen the transaction settled:
    // its own mark, so that removing the opening's never removes it.
    const [claimed] = await Promise.all([
      this.outcomeInserts.insertOnce(outcome),
      position === 'rollback' ? this.toReconcile.mark([`${transactionId}${ROLLBACK_MARK}`]) : undefined,
    ]);
    if (claimed) return { claimed: true, outcome };
    const holder = await this.outcomeAt(transactionId, position);
    if (!holder) throw new Error(`decision ${outcome._id} vanished after it was found taken`);
    return { claimed: false, outcome: holder };
  }

  private outcomeAt(transactionId: string, position: DecisionPosition): Promise<OutcomeDocument | null> {
    return this.outcomeCollection.findOne({ _id: outcomeIdOf(transactionId, position) });
  }
}

/** The suffix of a transaction's mark put by its rollback (see TransactionRecords.toReconcile). */
const ROLLBACK_MARK = ':rollback';

/** The transaction a mark is for. */
export function transactionOfMark(mark: string): string {
  return mark.endsWith(ROLLBACK_MARK) ? mark.slice(0, -ROLLBACK_MARK.length) : mark;
}

function outcomeIdOf(transactionId: string, position: DecisionPosition): string {
  return `${transactionId}:${POSITION_NUMBERS[position]}`;
}

function decisionOf(outcome: OutcomeDocument, position: DecisionPosition): TransactionDecision | RollbackDecision {
  if (outcome.status === 'Completed') return { status: 'Completed' };
  const failed: FailedDecision = {
    status: 'Failed',
    reason: outcome.reason ?? FAILURE_REASONS.transactionFailed,
    undo: undoOf(outcome, position),
  };
  // A rollback decided before rollbacks waited may move its money at once.
  return position === 'rollback' ? { ...failed, reverseAfter: (outcome.reverseAfter ?? outcome.at).toISOString() } : failed;
}

/**
 * The undo leg of a Failed decision. Decisions recorded before it was kept are read as the
 * previous release undid them: a refusal's legs by compensation, anything else by reversal.
 */
function undoOf(outcome: OutcomeDocument, position: DecisionPosition): UndoLeg {
  if (outcome.undo) return outcome.undo;
  return position === 'first' && outcome.reason !== null && REFUSAL_REASONS.has(outcome.reason) ? 'compensation' : 'reversal';
}

/** The terms an opening was written with; none for one opened by a `transaction.failed` or a rejected copy. */
function termsOf(opening: OpeningDocument): TransactionCompleted | null {
  return termsFrom({ transactionId: opening._id, type: opening.type, userIds: opening.userIds, amount: opening.amount });
}

/** A transaction's terms from its type, parties (sender first) and amount, when they make one. */
export function termsFrom({ transactionId, type, userIds, amount }: TransactionOpening): TransactionCompleted | null {
  if (amount === null) return null;
  if (type === 'TopUp' && userIds.length === 1) return { transactionId, type, userId: userIds[0], amount };
  if (type === 'Transfer' && userIds.length === 2) return { transactionId, type, fromUserId: userIds[0], toUserId: userIds[1], amount };
  return null;
}
