export const CURSOR_MAX_LENGTH = 64;

// An opaque pagination cursor: where the next (older) page of a wallet's history starts. Versions of
// one wallet never change, so pages stay stable while new entries arrive on top.

export function encodeCursor(beforeVersion: number): string {
  return Buffer.from(JSON.stringify({ v: beforeVersion })).toString('base64url');
}

/** The version a cursor starts before, or undefined when it is not a cursor this service gave out. */
export function decodeCursor(cursor: string): number | undefined {
  if (cursor.length > CURSOR_MAX_LENGTH || !/^[A-Za-z0-9_-]+$/.test(cursor)) return undefined;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  const version = (decoded as { v?: unknown } | null)?.v;
  return typeof version === 'number' && Number.isSafeInteger(version) && version >= 2 ? version : undefined;
}
