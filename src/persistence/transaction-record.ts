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
} from '../domain/transaction';
import { isDuplicateKey } from './duplicate-key';

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

// A writer that lost a race for the record (it changed between its read and its update) reads again.
const MAX_OUTCOME_ATTEMPTS = 10;

/** What recording an outcome did: `superseded` when the record already holds a later, final outcome. */
export type OutcomeRecording = 'recorded' | 'superseded';

/**
 * The transaction record: one document per transactionId (its `_id`, so every read and write is by
 * `_id`, indexed on FerretDB as on MongoDB). Opened by an insert, which the unique `_id` makes
 * atomic; its outcome moves only forward: Pending -> Completed | Failed, Completed -> Failed.
 *
 * Outcomes are written by the steps of the transaction's executions, which Temporal runs one at a
 * time (one execution per transaction id, the reversal only once it has closed). An update is
 * conditional on the status it read, which MongoDB applies atomically; FerretDB reads then rewrites,
 * so there the serialisation of steps by Temporal is what keeps writers apart, and a stale attempt
 * is caught by `latestOutcome` just before it publishes.
 */
export class TransactionRecords {
  private readonly records: Model<TransactionRecordDocument>;
  /** The driver's collection: records are written as they are, without mongoose's casting. */
  private readonly collection: mongo.Collection<TransactionRecordDocument>;

  constructor(connection: Connection) {
    this.records = connection.model<TransactionRecordDocument>('TransactionRecord', transactionRecordSchema, 'transaction_records');
    this.collection = this.records.collection as unknown as mongo.Collection<TransactionRecordDocument>;
  }

  async ensureCollection(): Promise<void> {
    await this.records.createCollection().catch((error: unknown) => {
      if ((error as { codeName?: string }).codeName !== 'NamespaceExists') throw error;
    });
  }

  /** Opens the record of a transaction seen for the first time; for one seen before, returns where it stands. */
  async open(opening: TransactionOpening): Promise<RecordedTransaction> {
    const now = new Date();
    try {
      await this.collection.insertOne({
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
      } satisfies TransactionRecordDocument);
      return { status: 'Pending' };
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
    const existing = await this.find(opening.transactionId);
    if (!existing) throw new Error(`transaction record ${opening.transactionId} vanished after it was found taken`);
    return summaryOf(existing);
  }

  find(transactionId: string): Promise<TransactionRecordDocument | null> {
    return this.records.findById(transactionId).lean<TransactionRecordDocument>().exec();
  }

  async statusOf(transactionId: string): Promise<RecordStatus | undefined> {
    return (await this.records.findById(transactionId, { status: 1 }).lean<Pick<TransactionRecordDocument, 'status'>>().exec())?.status;
  }

  /**
   * Records an outcome about to be announced, with the legs applied so far. Idempotent: the same
   * status again changes nothing. A `Completed` on a record already `Failed` is `superseded`.
   */
  async recordOutcome(finalized: TransactionFinalized, legs: readonly AppliedLeg[]): Promise<OutcomeRecording> {
    for (let attempt = 1; attempt <= MAX_OUTCOME_ATTEMPTS; attempt++) {
      const record = await this.find(finalized.transactionId);
      if (!record) {
        if (await this.insertWithOutcome(finalized, legs)) return 'recorded';
        continue;
      }
      if (record.status === finalized.status) return 'recorded';
      if (record.status === 'Failed') return 'superseded';
      const outcome: RecordedOutcome = { status: finalized.status, reason: finalized.reason ?? null, at: new Date() };
      const result = await this.collection.updateOne(
        { _id: record._id, status: record.status },
        {
          $set: { status: finalized.status, reason: outcome.reason, legs: mergeLegs(record.legs, legs), updatedAt: outcome.at },
          $push: { outcomes: outcome },
        },
      );
      if (result.matchedCount === 1) return 'recorded';
    }
    throw new Error(`transaction record ${finalized.transactionId} kept changing while its outcome was recorded`);
  }

  /** The status of the record's latest outcome, if any. */
  async latestOutcome(transactionId: string): Promise<FinalStatus | undefined> {
    const status = await this.statusOf(transactionId);
    return status === 'Pending' ? undefined : status;
  }

  /** A transaction whose execution started before records existed gets one at its first outcome. */
  private async insertWithOutcome(finalized: TransactionFinalized, legs: readonly AppliedLeg[]): Promise<boolean> {
    const now = new Date();
    try {
      await this.collection.insertOne({
        _id: finalized.transactionId,
        type: null,
        userIds: [...new Set(legs.map((leg) => leg.userId))],
        amount: null,
        status: finalized.status,
        reason: finalized.reason ?? null,
        legs: mergeLegs([], legs),
        outcomes: [{ status: finalized.status, reason: finalized.reason ?? null, at: now }],
        openedAt: now,
        updatedAt: now,
      } satisfies TransactionRecordDocument);
      return true;
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw error;
    }
  }
}

function summaryOf(record: TransactionRecordDocument): RecordedTransaction {
  return record.reason === null ? { status: record.status } : { status: record.status, reason: record.reason };
}

/** The record's legs plus those not in it yet; a leg is one (leg, userId) of the transaction. */
function mergeLegs(recorded: readonly RecordedLeg[], applied: readonly AppliedLeg[]): RecordedLeg[] {
  const merged = [...recorded];
  for (const { leg, userId, amount, version } of applied) {
    if (!merged.some((known) => known.leg === leg && known.userId === userId)) merged.push({ leg, userId, amount, version });
  }
  return merged;
}
