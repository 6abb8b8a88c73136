const DUPLICATE_KEY = 11000;

/** The server refused a write because a unique index already holds its key. */
export function isDuplicateKey(error: unknown): boolean {
  return (error as { code?: number } | null)?.code === DUPLICATE_KEY;
}

/** A bulk write refused only for keys already held (the driver reports one such error or several). */
export function onlyDuplicateKeys(error: unknown): boolean {
  const writeErrors = (error as { writeErrors?: unknown } | null)?.writeErrors;
  if (writeErrors === undefined) return isDuplicateKey(error);
  const all: unknown[] = Array.isArray(writeErrors) ? writeErrors : [writeErrors];
  return all.length > 0 && all.every(isDuplicateKey);
}
