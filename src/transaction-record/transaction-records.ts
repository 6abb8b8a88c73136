import { Schema, type Connection, type Model, type mongo } from 'mongoose';
import {
  TRANSACTION_TYPES,
  type AppliedLeg,
  type FinalStatus,
  type RecordedTransaction,
  type RecordStatus,
  type TransactionFinalized,
  type TransactionOpening,
  type TransactionType,
} from '../../workflows/contract';
import { createCollection } from '../database/connection';
import { isDuplicateKey } from '../database/duplicate-key';

export interface RecordedOutcome {
  status: FinalStatus;
  reason: string | null;
  at: Date;
}

export type RecordedLeg = Pick<AppliedLeg, 'leg' | 'userId' | 'amount' | 'version'>;

/** One transaction as the wallet handled it, kept as long as the ledger: the wallet's own idempotency key. */
export interface TransactionRecordDocument {
  /** The transactionId (lower-case hex). */
  _id: string;
  type: TransactionType | null;
  userIds: string[];
  amount: number | null;
  status: RecordStatus;
  /** The reason of the latest outcome when it is `Failed`. */
  reason: string | null;
  /** The ledger entries the transaction's executions applied, undo legs included. */
  legs: RecordedLeg[];
  /** Every outcome announced, in order: `Completed`, `Failed`, or `Completed` then `Failed`. */
  outcomes: RecordedOutcome[];
  openedAt: Date;
  updatedAt: Date;
}

/** The decision of a transaction's first or second outcome; only a Failed can follow a Completed. */
interface OutcomeDocument extends RecordedOutcome {
  /** `<transactionId>:<position>`, position 1 or 2: the unique _id lets exactly one decision take each. */
  _id: string;
  transactionId: string;
}

const OUTCOME_POSITIONS = { first: 1, rollback: 2 } as const;

const legSchema = new Schema<RecordedLeg>(
  { leg: { type: String, required: true }, userId: { type: String, required: true }, amount: Number, version: Number },
  { _id: false },
);
const outcomeSchema = new Schema<RecordedOutcome>(
  { status: { type: String, enum: ['Completed', 'Failed'], required: true }, reason: { type: String, default: null }, at: Date },
  { _id: false },
);
const transactionRecordSchema = new Schema<TransactionRecordDocument>(
  {
    _id: { type: String, required: true },
    type: { type: String, enum: [...TRANSACTION_TYPES, null], default: null },
    userIds: { type: [String], default: [] },
    amount: { type: Number, default: null },
    status: { type: String, enum: ['Pending', 'Completed', 'Failed'], required: true },
    reason: { type: String, default: null },
    legs: { type: [legSchema], default: [] },
    outcomes: { type: [outcomeSchema], default: [] },
    openedAt: { type: Date, required: true },
    updatedAt: { type: Date, required: true },
  },
  { versionKey: false, strict: 'throw' },
);

/** What recording an outcome found: whether it stands (or a later outcome does), and whether it is the first attempt at it. */
export interface OutcomeRecording {
  recording: 'recorded' | 'superseded';
  /** No earlier attempt recorded this outcome: it cannot have been announced yet. */
  firstAttempt: boolean;
}

/**
 * The transaction record: one document per transactionId (its `_id`), opened by an insert when the
 * transaction's first event is handled, with each outcome and the legs applied written to it.
 *
 * An outcome is decided by inserting it at its position (`<transactionId>:1`, then `:2` for the
 * Failed of a rollback) into `transaction_outcomes`: the unique `_id` lets exactly one writer decide
 * each, on FerretDB (which reads then rewrites an update) as on MongoDB. Every decision the service
 * makes reads those; the record document carries a copy of them for the people reading it. All
 * reads and writes are by `_id`, the only lookup FerretDB serves from an index.
 */
export class TransactionRecords {
  private readonly records: Model<TransactionRecordDocument>;
  private readonly recordCollection: mongo.Collection<TransactionRecordDocument>;
  private readonly outcomeCollection: mongo.Collection<OutcomeDocument>;

  constructor(private readonly connection: Connection) {
    this.records = connection.model<TransactionRecordDocument>('TransactionRecord', transactionRecordSchema, 'transaction_records');
    // The driver's collections: records are written as they are, without mongoose's casting.
    this.recordCollection = this.records.collection as unknown as mongo.Collection<TransactionRecordDocument>;
    this.outcomeCollection = connection.collection<OutcomeDocument>('transaction_outcomes');
  }

  async ensureCollections(): Promise<void> {
    await Promise.all([
      createCollection(this.connection, 'transaction_records'),
      createCollection(this.connection, 'transaction_outcomes'),
    ]);
  }

  /** Opens the record of a transaction seen for the first time; for one seen before, returns where it stands. */
  async open(opening: TransactionOpening): Promise<RecordedTransaction> {
    const now = new Date();
    try {
      await this.recordCollection.insertOne({
        _id: opening.transactionId,
        type: opening.type,
        userIds: opening.userIds,
        amount: opening.amount,
        status: 'Pending',
        reason: null,
        legs: [],
        outcomes: [],
        openedAt: now,
        updatedAt: now,
      });
      return { status: 'Pending' };
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
    const latest = await this.latest(opening.transactionId);
    return latest ? { status: latest.status, ...(latest.reason === null ? {} : { reason: latest.reason }) } : { status: 'Pending' };
  }

  /** The record, its status and outcomes as decided. */
  async find(transactionId: string): Promise<TransactionRecordDocument | null> {
    const [record, outcomes] = await Promise.all([
      this.records.findById(transactionId).lean<TransactionRecordDocument>().exec(),
      this.outcomesOf(transactionId),
    ]);
    if (!record) return null;
    const latest = outcomes.at(-1);
    return { ...record, status: latest?.status ?? 'Pending', reason: latest?.reason ?? null, outcomes };
  }

  /** For the reconciliation: still being applied, final with the legs it recorded, or never recorded. */
  async standingOf(
    transactionId: string,
  ): Promise<{ kind: 'inFlight' } | { kind: 'final'; legs: Array<{ userId: string; version: number }> } | { kind: 'unrecorded' }> {
    const record = await this.find(transactionId);
    if (!record) return { kind: 'unrecorded' };
    if (record.status === 'Pending') return { kind: 'inFlight' };
    return { kind: 'final', legs: record.legs.map(({ userId, version }) => ({ userId, version })) };
  }

  async statusOf(transactionId: string): Promise<RecordStatus> {
    return (await this.latest(transactionId))?.status ?? 'Pending';
  }

  /**
   * Decides an outcome about to be announced and writes it, with the legs applied, to the record.
   * Idempotent: the same outcome again changes nothing. A Completed after a Failed, or after the
   * rollback that followed it, is superseded.
   */
  async recordOutcome(finalized: TransactionFinalized, legs: readonly AppliedLeg[]): Promise<OutcomeRecording> {
    const decision = await this.decide(finalized);
    if (decision.recording === 'recorded') await this.copyOntoRecord(decision.outcome, legs);
    return decision;
  }

  /** Whether no later outcome followed this one: only a Failed can follow, and nothing follows a Failed. */
  async isLatest(finalized: TransactionFinalized): Promise<boolean> {
    if (finalized.status === 'Failed') return true;
    return (await this.outcomeAt(finalized.transactionId, OUTCOME_POSITIONS.rollback)) === null;
  }

  private async decide(finalized: TransactionFinalized): Promise<OutcomeRecording & { outcome: OutcomeDocument }> {
    const first = await this.claim(OUTCOME_POSITIONS.first, finalized);
    if (first.claimed) return { recording: 'recorded', firstAttempt: true, outcome: first.outcome };
    if (first.outcome.status === 'Failed') {
      return { recording: finalized.status === 'Failed' ? 'recorded' : 'superseded', firstAttempt: false, outcome: first.outcome };
    }
    if (finalized.status === 'Completed') {
      const rolledBack = await this.outcomeAt(finalized.transactionId, OUTCOME_POSITIONS.rollback);
      return { recording: rolledBack ? 'superseded' : 'recorded', firstAttempt: false, outcome: first.outcome };
    }
    const rollback = await this.claim(OUTCOME_POSITIONS.rollback, finalized);
    return { recording: 'recorded', firstAttempt: rollback.claimed, outcome: rollback.outcome };
  }

  /** Takes an outcome position; when another decision holds it, returns that one. */
  private async claim(position: number, finalized: TransactionFinalized): Promise<{ claimed: boolean; outcome: OutcomeDocument }> {
    const outcome: OutcomeDocument = {
      _id: `${finalized.transactionId}:${position}`,
      transactionId: finalized.transactionId,
      status: finalized.status,
      reason: finalized.reason ?? null,
      at: new Date(),
    };
    try {
      await this.outcomeCollection.insertOne(outcome);
      return { claimed: true, outcome };
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
    const holder = await this.outcomeAt(finalized.transactionId, position);
    if (!holder) throw new Error(`outcome ${outcome._id} vanished after it was found taken`);
    return { claimed: false, outcome: holder };
  }

  /**
   * Copies a decided outcome and the legs onto the record document (creating it for a transaction
   * whose execution started before records existed). Repeating it adds nothing twice.
   */
  private async copyOntoRecord(outcome: OutcomeDocument, legs: readonly AppliedLeg[]): Promise<void> {
    const { status, reason, at } = outcome;
    await this.recordCollection.updateOne(
      { _id: outcome.transactionId },
      {
        $set: { status, reason, updatedAt: new Date() },
        $addToSet: {
          outcomes: { status, reason, at },
          legs: { $each: legs.map(({ leg, userId, amount, version }) => ({ leg, userId, amount, version })) },
        },
        $setOnInsert: { type: null, userIds: [...new Set(legs.map((leg) => leg.userId))], amount: null, openedAt: at },
      },
      { upsert: true },
    );
  }

  /** The latest outcome decided, if any: a rollback's Failed is always the second. */
  private async latest(transactionId: string): Promise<OutcomeDocument | null> {
    const first = await this.outcomeAt(transactionId, OUTCOME_POSITIONS.first);
    if (!first || first.status === 'Failed') return first;
    return (await this.outcomeAt(transactionId, OUTCOME_POSITIONS.rollback)) ?? first;
  }

  private async outcomesOf(transactionId: string): Promise<RecordedOutcome[]> {
    const found = await Promise.all(Object.values(OUTCOME_POSITIONS).map((position) => this.outcomeAt(transactionId, position)));
    return found
      .filter((outcome): outcome is OutcomeDocument => outcome !== null)
      .map(({ status, reason, at }) => ({ status, reason, at }));
  }

  private outcomeAt(transactionId: string, position: number): Promise<OutcomeDocument | null> {
    return this.outcomeCollection.findOne({ _id: `${transactionId}:${position}` });
  }
}
