import type { mongo } from 'mongoose';

const DUPLICATE_KEY = 11000;

/** The server refused a write because a unique index already holds its key. */
export function isDuplicateKey(error: unknown): boolean {
  return (error as { code?: number } | null)?.code === DUPLICATE_KEY;
}

/** A bulk write refused only for keys already held (the driver reports one such error or several). */
function onlyDuplicateKeys(error: unknown): boolean {
  const writeErrors = (error as { writeErrors?: unknown } | null)?.writeErrors;
  if (writeErrors === undefined) return isDuplicateKey(error);
  const all: unknown[] = Array.isArray(writeErrors) ? writeErrors : [writeErrors];
  return all.length > 0 && all.every(isDuplicateKey);
}

/**
 * Inserts documents keyed by a unique `_id`, each at most once: a document whose key is held already
 * stays as it is, the others are inserted, and any other refusal is thrown.
 */
export async function insertAbsent<T extends mongo.Document>(
  collection: mongo.Collection<T>,
  documents: mongo.OptionalUnlessRequiredId<T>[],
): Promise<void> {
  try {
    await collection.insertMany(documents, { ordered: false });
  } catch (error) {
    if (!onlyDuplicateKeys(error)) throw error;
  }
}
