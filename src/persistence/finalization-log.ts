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

/** Confirmed announcements this process remembers without asking the database (oldest forgotten). */
const MAX_REMEMBERED = 10_000;

/**
 * Which announcements the broker has confirmed, one per (transaction, status). A finalization step
 * run again after an attempt the broker confirmed (a retry, a regular activity taking over from a
 * local one, a workflow task re-run after a timeout) finds it here and does not announce twice.
 */
export class FinalizationLog {
  private readonly records: Model<FinalizationRecord>;
  private readonly recent = new Set<string>();

  constructor(connection: Connection) {
    this.records = connection.model<FinalizationRecord>('Finalization', finalizationSchema, 'finalizations');
  }

  /**
   * Whether the announcement was confirmed: from this process's memory, and from the database when
   * `askDatabase` (each lookup scans the table on FerretDB, so callers ask only when a predecessor
   * may have run in another process).
   */
  async wasConfirmed(finalized: TransactionFinalized, { askDatabase }: { askDatabase: boolean }): Promise<boolean> {
    if (this.recent.has(keyOf(finalized))) return true;
    return askDatabase && (await this.records.exists({ _id: keyOf(finalized) }).exec()) !== null;
  }

  async recordConfirmed(finalized: TransactionFinalized): Promise<void> {
    this.remember(keyOf(finalized));
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

  private remember(key: string): void {
    this.recent.add(key);
    if (this.recent.size > MAX_REMEMBERED) this.recent.delete(this.recent.values().next().value!);
  }
}

function keyOf(finalized: TransactionFinalized): string {
  return `${finalized.transactionId}:${finalized.status}`;
}
