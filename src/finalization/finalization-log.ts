import type { Connection, mongo } from 'mongoose';
import type { FinalStatus, TransactionFinalized } from '../domain';
import { createCollection } from '../database/connection';
import { insertAbsent, isDuplicateKey } from '../database/duplicate-key';
import { announcementKey } from './announcement';

/** An announcement the broker routed, as its echo showed it: one per (transaction, status). */
interface DeliveryDocument {
  /** `<transactionId>:<status>` (see announcementKey). */
  _id: string;
  transactionId: string;
  status: FinalStatus;
  reason: string | null;
  at: Date;
  /** When nothing retries its announcement any more (see FinalizationLog.prune). */
  expiresAt: Date;
}

/** A point the echo's consumer reached in its queue (see FinalizationEcho.catchUp). */
interface FenceDocument {
  _id: string;
  at: Date;
  expiresAt: Date;
}

/** A fence serves one wait of a few seconds; one left by a waiter that died goes after this. */
const FENCE_RETENTION_MS = 60 * 60_000;
/** Expired documents deleted per collection by one pruning, at most (a day's deliveries at 1 announcement a second). */
const PRUNE_BATCH = 100_000;
/** Deletes by _id in flight at once while pruning. */
const PRUNE_CONCURRENCY = 8;
/** FerretDB refuses a TTL index ("not implemented"); MongoDB deletes expired documents by itself. */
const NOT_IMPLEMENTED = 238;

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

  /**
   * @param retentionMs how long a delivery is kept: longer than any retry of its announcement (a
   * transaction's step bound), after which a repeated event or a reset could announce it again.
   */
  constructor(
    private readonly connection: Connection,
    private readonly retentionMs: number,
  ) {
    this.deliveries = connection.collection<DeliveryDocument>('finalizations');
    this.fences = connection.collection<FenceDocument>('finalization_fences');
  }

  async ensureCollections(): Promise<void> {
    await Promise.all([createCollection(this.connection, 'finalizations'), createCollection(this.connection, 'finalization_fences')]);
    await Promise.all([expiring(this.deliveries, 'finalization_expiry'), expiring(this.fences, 'fence_expiry')]);
  }

  /**
   * Deletes deliveries and fences past their expiry, at most PRUNE_BATCH of each. MongoDB's TTL
   * index does it by itself; on FerretDB, which has none, this is what bounds the two collections:
   * one query finds the expired (a scan there, whose cost follows what the retention keeps, not the
   * ledger), and each is deleted by _id, the one lookup FerretDB serves from an index.
   */
  async prune(now = new Date()): Promise<{ deliveries: number; fences: number }> {
    const [deliveries, fences] = await Promise.all([pruned(this.deliveries, now), pruned(this.fences, now)]);
    return { deliveries, fences };
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
    const expiresAt = new Date(at.getTime() + this.retentionMs);
    const documents = announcements.map((finalized) => ({
      _id: announcementKey(finalized),
      transactionId: finalized.transactionId,
      status: finalized.status,
      reason: finalized.reason ?? null,
      at,
      expiresAt,
    }));
    // A redelivered copy finds its announcement recorded already.
    await insertAbsent(this.deliveries, documents);
  }

  async wasDelivered(finalized: TransactionFinalized): Promise<boolean> {
    return (await this.deliveries.findOne({ _id: announcementKey(finalized) }, { projection: { _id: 1 } })) !== null;
  }

  /** Records that the echo's consumer reached a fence. */
  async recordFence(fenceId: string): Promise<void> {
    const at = new Date();
    await insertOnce(this.fences, { _id: fenceId, at, expiresAt: new Date(at.getTime() + FENCE_RETENTION_MS) });
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

/** A TTL index on `expiresAt` where the server has them. */
type Expiring = { _id: string; expiresAt: Date };

async function expiring<T extends Expiring>(collection: mongo.Collection<T>, name: string): Promise<void> {
  try {
    await collection.createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0, name });
  } catch (error) {
    if ((error as { code?: number }).code !== NOT_IMPLEMENTED) throw error;
  }
}

async function pruned<T extends Expiring>(collection: mongo.Collection<T>, now: Date): Promise<number> {
  const expiring = collection as unknown as mongo.Collection<Expiring>;
  const expired = await expiring
    .find({ expiresAt: { $lt: now } }, { projection: { _id: 1 } })
    .limit(PRUNE_BATCH)
    .toArray();
  let deleted = 0;
  let next = 0;
  const deleter = async () => {
    while (next < expired.length) deleted += (await expiring.deleteOne({ _id: expired[next++]._id })).deletedCount;
  };
  await Promise.all(Array.from({ length: PRUNE_CONCURRENCY }, deleter));
  return deleted;
}
