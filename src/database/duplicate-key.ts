const DUPLICATE_KEY = 11000;

/** The server refused a write because a unique index already holds its key. */
export function isDuplicateKey(error: unknown): boolean {
  return (error as { code?: number } | null)?.code === DUPLICATE_KEY;
}
