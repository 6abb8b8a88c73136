import { Schema, type Connection, type Model } from 'mongoose';
import type { FinalStatus, TransactionFinalized } from '../domain/transaction';
import { isDuplicateKey } from './duplicate-key';

interface FinalizationRecord {
  _id: string;
  transactionId: string;
  status: FinalStatus;
  reason: string | null;
  at: Date;
}

const finalizationSchema = new Schema<FinalizationRecord>(
  {
    _id: { type: String, required: true },
    transactionId: { type: String, required: true },
    status: { type: String, enum: ['Completed', 'Failed'], required: true },
    reason: { type: String, default: null },
    at: { type: Date, required: true },
  },
  { versionKey: false, strict: 'throw' },
);

/** Confirmed announcements this process remembers without asking the database (oldest forgotten). */
const MAX_REMEMBERED = 10_000;

/**
 * Which announcements were attempted and which the broker confirmed, one per (transaction, status).
 * A finalization step run again after an attempt the broker confirmed (a retry, a regular activity
 * taking over from a local one, a workflow task re-run after a timeout or a crash) finds it here
 * and does not announce twice.
 *
 * Inserts are cheap everywhere (a unique index), lookups are not on FerretDB (a scan): so every
 * attempt inserts a marker first, and only an attempt whose marker already existed, one that
 * follows another, looks the confirmation up.
 */
export class FinalizationLog {
  private readonly records: Model<FinalizationRecord>;
  private readonly recent = new Set<string>();

  constructor(connection: Connection) {
    this.records = connection.model<FinalizationRecord>('Finalization', finalizationSchema, 'finalizations');
  }

  /** Whether an earlier attempt at this announcement got the broker's confirm. */
  async wasConfirmedBefore(finalized: TransactionFinalized): Promise<boolean> {
    const key = keyOf(finalized);
    if (this.recent.has(key)) return true;
    if (await this.insertOnce(`${key}:attempted`, finalized)) return false;
    return (await this.records.exists({ _id: key }).exec()) !== null;
  }

  async recordConfirmed(finalized: TransactionFinalized): Promise<void> {
    this.remember(keyOf(finalized));
    await this.insertOnce(keyOf(finalized), finalized);
  }

  /** Inserts a record; false when it already existed. */
  private async insertOnce(key: string, finalized: TransactionFinalized): Promise<boolean> {
    try {
      await this.records.create({
        _id: key,
        transactionId: finalized.transactionId,
        status: finalized.status,
        reason: finalized.reason ?? null,
        at: new Date(),
      });
      return true;
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw error;
    }
  }

  private remember(key: string): void {
    this.recent.add(key);
    if (this.recent.size > MAX_REMEMBERED) this.recent.delete(this.recent.values().next().value!);
  }
}

function keyOf(finalized: TransactionFinalized): string {
  return `${finalized.transactionId}:${finalized.status}`;
}
