import { LedgerInvariantError } from './errors';
import type { LedgerEntryDocument } from './ledger-entry.model';
import type { LedgerStore } from './ledger-store';

// Finding a moment in a wallet's ledger without an index on time: an entry is never stamped earlier
// than the one before it (see nextEntryTime), so along versions 1..head the entries' times never
// decrease, and the first version at or past a moment is found by binary search over versions, with
// O(log head) reads by _id. FerretDB would scan the whole collection for a query on createdAt.

/**
 * The first version in `lowest..head` whose entry's time has `reached` the moment sought (a test that
 * is false, then true, along the versions), or head + 1 when none has.
 */
export async function firstVersionReaching(
  store: LedgerStore,
  userId: string,
  head: number,
  reached: (createdAt: Date) => boolean,
  lowest = 1,
): Promise<number> {
  let low = lowest;
  let high = head + 1;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if (reached((await entryAt(store, userId, middle)).createdAt)) high = middle;
    else low = middle + 1;
  }
  return low;
}

/** An entry that must exist: versions 1..head are gapless. */
export async function entryAt(store: LedgerStore, userId: string, version: number): Promise<LedgerEntryDocument> {
  const entry = await store.entryAt(userId, version);
  if (!entry) throw new LedgerInvariantError(`ledger of user ${userId} has no entry at version ${version}`);
  return entry;
}
