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

/** Announcements this process remembers as delivered without asking the database (oldest forgotten). */
const MAX_REMEMBERED = 10_000;

/**
 * Which announcements reached the broker's queues, one per (transaction, status). A finalization
 * step run again (a retry, a regular activity taking over from a local one, a workflow task re-run
 * after a crash), whose outcome an earlier attempt had already recorded, reads here whether that
 * attempt announced it.
 *
 * Delivered records are written by the finalization echo, from the broker's own copy of each
 * announcement, so an announcement whose confirm died with its process is still known.
 */
export class FinalizationLog {
  private readonly records: Model<FinalizationRecord>;
  private readonly recent = new Set<string>();

  constructor(connection: Connection) {
    this.records = connection.model<FinalizationRecord>('Finalization', finalizationSchema, 'finalizations');
  }

  /** Whether this process already saw the broker confirm this announcement. */
  rememberedAsDelivered(finalized: TransactionFinalized): boolean {
    return this.recent.has(announcementKey(finalized));
  }

  rememberDelivered(finalized: TransactionFinalized): void {
    const key = announcementKey(finalized);
    this.recent.add(key);
    if (this.recent.size > MAX_REMEMBERED) this.recent.delete(this.recent.values().next().value!);
  }

  /** Records that the announcement is in the broker's queues (idempotent). */
  async recordDelivered(finalized: TransactionFinalized): Promise<void> {
    await this.insertOnce(announcementKey(finalized), finalized);
  }

  async wasDelivered(finalized: TransactionFinalized): Promise<boolean> {
    return (await this.records.exists({ _id: announcementKey(finalized) }).exec()) !== null;
  }

  /** Records that the echo consumer reached a fence (see FinalizationEcho.catchUp). */
  async recordFence(fenceId: string): Promise<void> {
    await this.insertOnce(fenceKey(fenceId), { transactionId: fenceId, status: 'Completed' });
  }

  /** Whether the fence was reached; a reached fence is removed, it serves one wait. */
  async takeFence(fenceId: string): Promise<boolean> {
    return (await this.records.deleteOne({ _id: fenceKey(fenceId) }).exec()).deletedCount === 1;
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
}

/** One announcement: a transaction's outcome (reasons aside, a status is announced once). */
export function announcementKey(finalized: TransactionFinalized): string {
  return `${finalized.transactionId}:${finalized.status}`;
}

function fenceKey(fenceId: string): string {
  return `fence:${fenceId}`;
}
