import { mongo, type Connection } from 'mongoose';

/** Documents read per collection to estimate its average document size. */
const SAMPLE = 500;

/** Per collection: how many documents, and their average size as BSON (what the driver sends). */
export type StoreSnapshot = Map<string, { documents: number; averageBytes: number }>;

/** Counts every collection of the database and samples its document size. */
export async function snapshotStores(connection: Connection): Promise<StoreSnapshot> {
  const db = connection.db!;
  const snapshot: StoreSnapshot = new Map();
  for (const { name } of await db.listCollections({}, { nameOnly: true }).toArray()) {
    const collection = db.collection(name);
    const documents = await collection.countDocuments();
    const sample = await collection.find().limit(SAMPLE).toArray();
    const averageBytes =
      sample.length === 0 ? 0 : sample.reduce((sum, doc) => sum + mongo.BSON.calculateObjectSize(doc), 0) / sample.length;
    snapshot.set(name, { documents, averageBytes });
  }
  return snapshot;
}

/**
 * What each collection grew by per transfer between two snapshots, in documents and in BSON bytes
 * (documents added times the average size after): logical bytes, without indexes or the engine's
 * own overhead.
 */
export function growthPerTransfer(
  before: StoreSnapshot,
  after: StoreSnapshot,
  transfers: number,
): Record<string, { documents: number; bytes: number }> {
  const growth: Record<string, { documents: number; bytes: number }> = {};
  for (const [name, { documents, averageBytes }] of after) {
    const added = documents - (before.get(name)?.documents ?? 0);
    if (added <= 0) continue;
    growth[name] = { documents: round(added / transfers), bytes: Math.round((added * averageBytes) / transfers) };
  }
  return growth;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
