import { entryHash, GENESIS_HASH } from './ledger-chain';
import { LedgerInvariantError } from './errors';
import type { LedgerStore } from './ledger-store';

/** Entries of one wallet read and sealed at once. */
const SEAL_BATCH = 16;

/**
 * Gives a wallet's entries up to `version` their chain hashes where they were written before entries
 * were chained, and returns the hash at `version`. Sealed entries are always a prefix of a wallet's
 * versions (the writer seals a head before it builds on it, the migration seals from the bottom),
 * so the last sealed one is found by binary search and only the rest is read. Two sealers compute
 * the same hashes, so they may race; every batch sealed stays sealed, so a sealer stopped half-way
 * (a timed-out activity) leaves progress for the next.
 */
export async function sealChain(store: LedgerStore, userId: string, version: number, signal?: AbortSignal): Promise<string> {
  if (version === 0) return GENESIS_HASH;
  let sealed = 0;
  let unsealed = version;
  const head = await store.entryAt(userId, version);
  if (head?.hash) return head.hash;
  while (unsealed - sealed > 1) {
    const middle = Math.floor((sealed + unsealed) / 2);
    const entry = await entryOrThrow(store, userId, middle);
    if (entry.hash) sealed = middle;
    else unsealed = middle;
  }
  let previous = sealed === 0 ? GENESIS_HASH : (await entryOrThrow(store, userId, sealed)).hash!;
  for (let from = sealed + 1; from <= version; from += SEAL_BATCH) {
    signal?.throwIfAborted();
    const versions = Array.from({ length: Math.min(SEAL_BATCH, version - from + 1) }, (_, i) => from + i);
    const entries = await Promise.all(versions.map((v) => entryOrThrow(store, userId, v)));
    const seals = entries.map((entry) => {
      previous = entry.hash ?? entryHash(entry, previous);
      return { updateOne: { filter: { _id: entry._id }, update: { $set: { hash: previous } } } };
    });
    await store.entryCollection.bulkWrite(seals, { ordered: false });
  }
  return previous;
}

async function entryOrThrow(store: LedgerStore, userId: string, version: number) {
  const entry = await store.entryAt(userId, version);
  if (!entry) throw new LedgerInvariantError(`ledger of user ${userId} has no entry at version ${version}`);
  return entry;
}
