import { LedgerInvariantError } from './errors';
import { toHistoryEntry, type HistoryEntry } from './history-entry';
import { verifyChain, type ChainLink } from './ledger-chain';
import type { LedgerEntryDocument } from './ledger-entry.model';
import { ledgerHeadOf } from './ledger-head';
import type { LedgerStore } from './ledger-store';

// A wallet's entries in version order for a reader that follows the ledger as it grows (the live
// updates): each read picks up after the last entry the reader has, by _id, so whatever told the
// reader to look (a hint, a timer), it gets every entry once, in order, checked against the previous.

/** The last entry a reader has: version 0 before the wallet's first entry. */
export type FeedPosition = ChainLink;

const START: FeedPosition = { version: 0, amount: 0, balanceAfter: 0 };

/** Where a reader resuming after `version` stands; null when the wallet has no entry at that version. */
export async function positionAfter(store: LedgerStore, userId: string, version: number): Promise<FeedPosition | null> {
  if (version === 0) return START;
  const entry = await store.entryAt(userId, version);
  return entry ? linkOf(entry) : null;
}

/**
 * Where a new reader starts: just before the wallet's latest entry, so that its first read gives it
 * the current balance. Undefined for a wallet that does not exist.
 */
export async function positionBeforeLatest(store: LedgerStore, userId: string): Promise<FeedPosition | undefined> {
  const head = await ledgerHeadOf(store, userId);
  if (head === undefined) return undefined;
  const before = Math.max(0, (head?.version ?? 0) - 1);
  const position = await positionAfter(store, userId, before);
  if (!position) throw new LedgerInvariantError(`ledger of user ${userId} has no entry at version ${before}`);
  return position;
}

/** Up to `max` entries after `position`, read one version at a time until the ledger's head. */
export async function entriesAfter(
  store: LedgerStore,
  userId: string,
  position: FeedPosition,
  max: number,
): Promise<{ entries: HistoryEntry[]; position: FeedPosition }> {
  const found: LedgerEntryDocument[] = [];
  for (let version = position.version + 1; found.length < max; version++) {
    const entry = await store.entryAt(userId, version);
    if (!entry) break;
    found.push(entry);
  }
  verifyChain(userId, found, position);
  const last = found[found.length - 1];
  return { entries: found.map(toHistoryEntry), position: last ? linkOf(last) : position };
}

function linkOf(entry: LedgerEntryDocument): FeedPosition {
  return { version: entry.version, amount: entry.amount, balanceAfter: entry.balanceAfter };
}
