import type { Connection, mongo } from 'mongoose';
import type {
  AppliedLeg,
  FinalStatus,
  RecordedTransaction,
  RecordStatus,
  TransactionFinalized,
  TransactionOpening,
  TransactionType,
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

/**
 * What is stored of a transaction when it opens: written once, never updated. Its outcomes, with
 * the legs applied, are documents of their own. (Records written before outcomes carried their legs
 * also hold `legs` and copies of the outcomes; they are still read.)
 */
type OpeningDocument = Pick<TransactionRecordDocument, '_id' | 'type' | 'userIds' | 'amount' | 'openedAt'> &
  Partial<Pick<TransactionRecordDocument, 'legs'>>;

/** The decision of a transaction's first or second outcome; only a Failed can follow a Completed. */
interface OutcomeDocument extends RecordedOutcome {
  /** `<transactionId>:<position>`, position 1 or 2: the unique _id lets exactly one decision take each. */
  _id: string;
  transactionId: string;
  /** The legs the execution deciding it had applied (absent on outcomes decided before they were kept here). */
  legs?: RecordedLeg[];
}

const OUTCOME_POSITIONS = { first: 1, rollback: 2 } as const;

/** What recording an outcome found: whether it stands (or a later outcome does), and whether it is the first attempt at it. */
export interface OutcomeRecording {
  recording: 'recorded' | 'superseded';
  /** No earlier attempt recorded this outcome: it cannot have been announced yet. */
  firstAttempt: boolean;
}

/**
 * The transaction record: one document per transactionId (its `_id`), inserted when the
 * transaction's first event is handled, and one document per outcome, with the legs applied.
 *
 * An outcome is decided by inserting it at its position (`<transactionId>:1`, then `:2` for the
 * Failed of a rollback) into `transaction_outcomes`: the unique `_id` lets exactly one writer decide
 * each, on FerretDB (which reads then rewrites an update) as on MongoDB. Nothing is updated in place,
 * so recording an outcome is one insert. All reads and writes are by `_id`, the only lookup FerretDB
 * serves from an index.
 */
export class TransactionRecords {
  private readonly openings: mongo.Collection<OpeningDocument>;
  private readonly outcomeCollection: mongo.Collection<OutcomeDocument>;

  constructor(private readonly connection: Connection) {
    this.openings = connection.collection<OpeningDocument>('transaction_records');
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
    try {
      await this.openings.insertOne({
        _id: opening.transactionId,
        type: opening.type,
        userIds: opening.userIds,
        amount: opening.amount,
        openedAt: new Date(),
      });
      return { status: 'Pending' };
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
    const latest = await this.latest(opening.transactionId);
    return latest ? { status: latest.status, ...(latest.reason === null ? {} : { reason: latest.reason }) } : { status: 'Pending' };
  }

  /** The record, its status, outcomes and legs as decided; null for a transaction never seen. */
  async find(transactionId: string): Promise<TransactionRecordDocument | null> {
    const [opening, outcomes] = await Promise.all([this.openings.findOne({ _id: transactionId }), this.outcomesOf(transactionId)]);
    if (!opening && outcomes.length === 0) return null;
    const latest = outcomes.at(-1);
    const openedAt = opening?.openedAt ?? outcomes[0].at;
    const legs = uniqueLegs([...(opening?.legs ?? []), ...outcomes.flatMap((outcome) => outcome.legs ?? [])]);
    return {
      _id: transactionId,
      type: opening?.type ?? null,
      userIds: opening?.userIds ?? [...new Set(legs.map((leg) => leg.userId))],
      amount: opening?.amount ?? null,
      status: latest?.status ?? 'Pending',
      reason: latest?.reason ?? null,
      legs,
      outcomes: outcomes.map(({ status, reason, at }) => ({ status, reason, at })),
      openedAt,
      updatedAt: latest?.at ?? openedAt,
    };
  }

  /** For the reconciliation: still being applied, final with the legs it recorded, or never recorded. */
  async standingOf(
    transactionId: string,
  ): Promise<
    { kind: 'inFlight'; openedAt: Date } | { kind: 'final'; legs: Array<{ userId: string; version: number }> } | { kind: 'unrecorded' }
  > {
    const record = await this.find(transactionId);
    if (!record) return { kind: 'unrecorded' };
    if (record.status === 'Pending') return { kind: 'inFlight', openedAt: record.openedAt };
    return { kind: 'final', legs: record.legs.map(({ userId, version }) => ({ userId, version })) };
  }

  async statusOf(transactionId: string): Promise<RecordStatus> {
    return (await this.latest(transactionId))?.status ?? 'Pending';
  }

  /**
   * Decides an outcome about to be announced, with the legs applied. Idempotent: the same outcome
   * again changes nothing. A Completed after a Failed, or after the rollback that followed it, is
   * superseded.
   */
  recordOutcome(finalized: TransactionFinalized, legs: readonly AppliedLeg[]): Promise<OutcomeRecording> {
    return this.decide(
      finalized,
      legs.map(({ leg, userId, amount, version }) => ({ leg, userId, amount, version })),
    );
  }

  /** Whether no later outcome followed this one: only a Failed can follow, and nothing follows a Failed. */
  async isLatest(finalized: TransactionFinalized): Promise<boolean> {
    if (finalized.status === 'Failed') return true;
    return (await this.outcomeAt(finalized.transactionId, OUTCOME_POSITIONS.rollback)) === null;
  }

  private async decide(finalized: TransactionFinalized, legs: RecordedLeg[]): Promise<OutcomeRecording> {
    const first = await this.claim(OUTCOME_POSITIONS.first, finalized, legs);
    if (first.claimed) return { recording: 'recorded', firstAttempt: true };
    if (first.outcome.status === 'Failed') {
      return { recording: finalized.status === 'Failed' ? 'recorded' : 'superseded', firstAttempt: false };
    }
    if (finalized.status === 'Completed') {
      const rolledBack = await this.outcomeAt(finalized.transactionId, OUTCOME_POSITIONS.rollback);
      return { recording: rolledBack ? 'superseded' : 'recorded', firstAttempt: false };
    }
    const rollback = await this.claim(OUTCOME_POSITIONS.rollback, finalized, legs);
    return { recording: 'recorded', firstAttempt: rollback.claimed };
  }

  /** Takes an outcome position; when another decision holds it, returns that one. */
  private async claim(
    position: number,
    finalized: TransactionFinalized,
    legs: RecordedLeg[],
  ): Promise<{ claimed: boolean; outcome: OutcomeDocument }> {
    const outcome: OutcomeDocument = {
      _id: `${finalized.transactionId}:${position}`,
      transactionId: finalized.transactionId,
      status: finalized.status,
      reason: finalized.reason ?? null,
      at: new Date(),
      legs,
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

  /** The latest outcome decided, if any: a rollback's Failed is always the second. */
  private async latest(transactionId: string): Promise<OutcomeDocument | null> {
    const first = await this.outcomeAt(transactionId, OUTCOME_POSITIONS.first);
    if (!first || first.status === 'Failed') return first;
    return (await this.outcomeAt(transactionId, OUTCOME_POSITIONS.rollback)) ?? first;
  }

  private async outcomesOf(transactionId: string): Promise<OutcomeDocument[]> {
    const found = await Promise.all(Object.values(OUTCOME_POSITIONS).map((position) => this.outcomeAt(transactionId, position)));
    return found.filter((outcome): outcome is OutcomeDocument => outcome !== null);
  }

  private outcomeAt(transactionId: string, position: number): Promise<OutcomeDocument | null> {
    return this.outcomeCollection.findOne({ _id: `${transactionId}:${position}` });
  }
}

/** Each leg once: the outcomes of one transaction repeat the forward legs they both saw. */
function uniqueLegs(legs: RecordedLeg[]): RecordedLeg[] {
  return [...new Map(legs.map((leg) => [`${leg.userId}:${leg.version}`, leg])).values()];
}
