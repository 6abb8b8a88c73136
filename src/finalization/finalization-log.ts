import type { Connection, mongo } from 'mongoose';
import type { FinalStatus, TransactionFinalized } from '../../workflows/contract';
import { createCollection } from '../database/connection';
import { isDuplicateKey, onlyDuplicateKeys } from '../database/duplicate-key';
import { announcementKey } from './announcement';

/** An announcement the broker routed, as its echo showed it: one per (transaction, status). */
interface DeliveryDocument {
  /** `<transactionId>:<status>` (see announcementKey). */
  _id: string;
  transactionId: string;
  status: FinalStatus;
  reason: string | null;
  at: Date;
}

/** A point the echo's consumer reached in its queue (see FinalizationEcho.catchUp). */
interface FenceDocument {
  _id: string;
  at: Date;
}

/** Announcements this process remembers as delivered without asking the database (oldest forgotten). */
const MAX_REMEMBERED = 10_000;

/**
 * Which announcements reached the broker's queues, one per (transaction, status). A finalization
 * step run again, whose outcome an earlier attempt had already recorded, reads here whether that
 * attempt announced it. Deliveries are written by the finalization echo, from the broker's own
 * copy of each announcement, so an announcement whose confirm died with its process is still known.
 */
export class FinalizationLog {
  private readonly deliveries: mongo.Collection<DeliveryDocument>;
  private readonly fences: mongo.Collection<FenceDocument>;
  private readonly recent = new Set<string>();

  constructor(private readonly connection: Connection) {
    this.deliveries = connection.collection<DeliveryDocument>('finalizations');
    this.fences = connection.collection<FenceDocument>('finalization_fences');
  }

  async ensureCollections(): Promise<void> {
    await Promise.all([createCollection(this.connection, 'finalizations'), createCollection(this.connection, 'finalization_fences')]);
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

  /** Records that these announcements are in the broker's queues, in one write (idempotent). */
  async recordDelivered(announcements: readonly TransactionFinalized[]): Promise<void> {
    if (announcements.length === 0) return;
    const at = new Date();
    const documents = announcements.map((finalized) => ({
      _id: announcementKey(finalized),
      transactionId: finalized.transactionId,
      status: finalized.status,
      reason: finalized.reason ?? null,
      at,
    }));
    try {
      await this.deliveries.insertMany(documents, { ordered: false });
    } catch (error) {
      // A redelivered copy finds its announcement recorded already; the others were inserted.
      if (!onlyDuplicateKeys(error)) throw error;
    }
  }

  async wasDelivered(finalized: TransactionFinalized): Promise<boolean> {
    return (await this.deliveries.findOne({ _id: announcementKey(finalized) }, { projection: { _id: 1 } })) !== null;
  }

  /** Records that the echo's consumer reached a fence. */
  async recordFence(fenceId: string): Promise<void> {
    await insertOnce(this.fences, { _id: fenceId, at: new Date() });
  }

  /** Whether the fence was reached; a reached fence is removed, it serves one wait. */
  async takeFence(fenceId: string): Promise<boolean> {
    return (await this.fences.deleteOne({ _id: fenceId })).deletedCount === 1;
  }
}

async function insertOnce<T extends { _id: string }>(collection: mongo.Collection<T>, document: T): Promise<void> {
  try {
    await collection.insertOne(document as mongo.OptionalUnlessRequiredId<T>);
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
  }
}
