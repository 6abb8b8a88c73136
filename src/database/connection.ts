import mongoose, { type Connection } from 'mongoose';

// Every database operation is bounded: a dead server fails a call within seconds, so the Temporal
// activity that made it is retried with backoff instead of hanging past its own timeout.
const CONNECTION_OPTIONS = {
  serverSelectionTimeoutMS: 3_000,
  connectTimeoutMS: 3_000,
  socketTimeoutMS: 8_000,
  maxPoolSize: 32,
  autoIndex: false,
  autoCreate: false,
  // Fail fast while disconnected instead of queueing operations in memory.
  bufferCommands: false,
} as const;
const PING_TIMEOUT_MS = 2_000;

/**
 * Connects to the wallet database; each owner of a collection creates its own (see ensureCollections).
 * `monitorCommands` has the driver report each command (for the query metrics).
 */
export async function openConnection(url: string, { monitorCommands = false } = {}): Promise<Connection> {
  const connection = mongoose.createConnection(url, { ...CONNECTION_OPTIONS, monitorCommands });
  await connection.asPromise();
  return connection;
}

/** Creates a collection unless it exists (FerretDB, like MongoDB, creates none implicitly here: autoCreate is off). */
export async function createCollection(connection: Connection, name: string): Promise<void> {
  await connection.createCollection(name).catch((error: unknown) => {
    if ((error as { codeName?: string }).codeName !== 'NamespaceExists') throw error;
  });
}

export async function pingDatabase(connection: Connection): Promise<void> {
  const db = connection.db;
  if (!db) throw new Error('database connection is not open');
  await db.admin().ping({ timeoutMS: PING_TIMEOUT_MS });
}

const UNAVAILABLE_ERRORS = new Set([
  'MongoServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoTopologyClosedError',
  'MongoNotConnectedError',
  'MongoOperationTimeoutError',
  'MongoPoolClearedError',
]);

/** True for failures that mean "the database cannot be reached now", not "this operation is wrong". */
export function isDatabaseUnavailable(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return typeof name === 'string' && UNAVAILABLE_ERRORS.has(name);
}
