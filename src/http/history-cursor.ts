import { HttpError } from './http-error';

// An opaque pagination cursor: where the next (older) page of a wallet's history starts. Versions of
// one wallet never change, so pages stay stable while new entries arrive on top.

export function encodeCursor(beforeVersion: number): string {
  return Buffer.from(JSON.stringify({ v: beforeVersion })).toString('base64url');
}

export function decodeCursor(cursor: string): number {
  const invalid = new HttpError(400, 'cursor is invalid; pass back the nextCursor of a previous page');
  if (cursor.length > 64 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid;
  }
  const version = (decoded as { v?: unknown } | null)?.v;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 2) throw invalid;
  return version;
}
