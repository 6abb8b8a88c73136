import { Schema, type Connection, type Model } from 'mongoose';
import type { FinalStatus, TransactionFinalized } from '../domain/transaction';
import { isDuplicateKey } from './duplicate-key';

interface FinalizationRecord {
  _id: string;
  transactionId: string;
  status: FinalStatus;
  reason: string | null;
  confirmedAt: Date;
}

const finalizationSchema = new Schema<FinalizationRecord>(
  {
    _id: { type: String, required: true },
    transactionId: { type: String, required: true },
    status: { type: String, enum: ['Completed', 'Failed'], required: true },
    reason: { type: String, default: null },
    confirmedAt: { type: Date, required: true },
  },
  { versionKey: false, strict: 'throw' },
);

/**
 * Which announcements the broker has confirmed, one per (transaction, status). A retried
 * finalization activity whose earlier attempt was confirmed (but whose completion Temporal never
 * heard of) finds it here and does not announce the outcome twice.
 */
export class FinalizationLog {
  private readonly records: Model<FinalizationRecord>;

  constructor(connection: Connection) {
    this.records = connection.model<FinalizationRecord>('Finalization', finalizationSchema, 'finalizations');
  }

  async wasConfirmed(finalized: TransactionFinalized): Promise<boolean> {
    return (await this.records.exists({ _id: keyOf(finalized) }).exec()) !== null;
  }

  async recordConfirmed(finalized: TransactionFinalized): Promise<void> {
    try {
      await this.records.create({
        _id: keyOf(finalized),
        transactionId: finalized.transactionId,
        status: finalized.status,
        reason: finalized.reason ?? null,
        confirmedAt: new Date(),
      });
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
  }
}

function keyOf(finalized: TransactionFinalized): string {
  return `${finalized.transactionId}:${finalized.status}`;
}
