import { LedgerInvariantError } from './errors';
import type { LedgerEntryDocument } from './ledger-entry.model';
import type { LedgerStore } from './ledger-store';

/**
 * The entry at `version` (the one the wallet document copies) or the newest beyond it, read by _id;
 * null for a wallet without entries. The document may lag its ledger, never lead it.
 */
export async function latestEntryFrom(store: LedgerStore, userId: string, version: number): Promise<LedgerEntryDocument | null> {
  const copied = version > 0 ? await store.entryAt(userId, version) : null;
  if (version > 0 && !copied) throw new LedgerInvariantError(`wallet of user ${userId} is at version ${version}, which its ledger lacks`);
  return (await store.newestAfter(userId, version)) ?? copied;
}

/** A wallet's latest entry as its ledger holds it now: `undefined` without a wallet, null before its first entry. */
export async function ledgerHeadOf(store: LedgerStore, userId: string): Promise<LedgerEntryDocument | null | undefined> {
  const wallet = await store.walletOf(userId, { version: 1 });
  if (!wallet) return undefined;
  return latestEntryFrom(store, userId, wallet.version);
}
