import type { mongo } from 'mongoose';

const DUPLICATE_KEY = 11000;

/** The server refused a write because a unique index already holds its key. */
export function isDuplicateKey(error: unknown): boolean {
  return (error as { code?: number } | null)?.code === DUPLICATE_KEY;
}

/** What an unordered insert did with one document: inserted it (true), found a key of it held (false), or refused it (why). */
export type InsertOutcome = boolean | Error;

interface WriteError {
  index: number;
  code?: number;
  errmsg?: string;
}

/** How the driver reports a bulk write that refused some documents. */
interface BulkWriteRefusal {
  writeErrors?: WriteError | WriteError[];
  /** The command's result: whether the documents written met the write concern. */
  result?: { getWriteConcernError?: () => unknown };
}

/**
 * Inserts documents in one unordered command and answers each: a document refused does not keep the
 * others out. A command that failed as a whole (no per-document answer, or documents written without
 * meeting the write concern) is thrown.
 */
export async function insertEach<T extends mongo.Document>(
  collection: mongo.Collection<T>,
  documents: mongo.OptionalUnlessRequiredId<T>[],
): Promise<InsertOutcome[]> {
  try {
    await collection.insertMany(documents, { ordered: false });
    return documents.map(() => true);
  } catch (error) {
    const { writeErrors, result } = (error ?? {}) as BulkWriteRefusal;
    const refused = writeErrors === undefined ? [] : Array.isArray(writeErrors) ? writeErrors : [writeErrors];
    if (refused.length === 0 || result?.getWriteConcernError?.()) throw error;
    const outcomes: InsertOutcome[] = documents.map(() => true);
    for (const writeError of refused) {
      outcomes[writeError.index] = isDuplicateKey(writeError)
        ? false
        : Object.assign(new Error(`insert refused: ${writeError.errmsg ?? 'no reason given'}`), { code: writeError.code });
    }
    return outcomes;
  }
}

/**
 * Inserts documents keyed by a unique `_id`, each at most once: a document whose key is held already
 * stays as it is, the others are inserted, and any other refusal is thrown.
 */
export async function insertAbsent<T extends mongo.Document>(
  collection: mongo.Collection<T>,
  documents: mongo.OptionalUnlessRequiredId<T>[],
): Promise<void> {
  throwRefusal(await insertEach(collection, documents));
}

/** Throws the first refusal among insert outcomes; a key held is not one. */
export function throwRefusal(outcomes: readonly InsertOutcome[]): void {
  for (const outcome of outcomes) if (outcome instanceof Error) throw outcome;
}
