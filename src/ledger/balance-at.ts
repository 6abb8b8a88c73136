import { entryAt, firstVersionReaching } from './entry-times';
import { verifyChain } from './ledger-chain';
import { ledgerHeadOf } from './ledger-head';
import type { LedgerStore } from './ledger-store';

export interface BalanceAtMoment {
  userId: string;
  balance: number;
  /** The version of the entry that set the balance; 0 before the wallet's first entry. */
  version: number;
  at: Date;
}

/**
 * The balance a wallet held at `at`: the balanceAfter of its last entry stamped at or before it (0 and
 * version 0 before the first). Without `at`, the balance of its latest entry now. Null for a wallet
 * that does not exist.
 */
export async function balanceAt(store: LedgerStore, userId: string, at?: Date): Promise<BalanceAtMoment | null> {
  const head = await ledgerHeadOf(store, userId);
  if (head === undefined) return null;
  const headVersion = head?.version ?? 0;
  if (!at) return balanceOfVersion(store, userId, headVersion, new Date());
  const version = (await firstVersionReaching(store, userId, headVersion, (createdAt) => createdAt > at)) - 1;
  return balanceOfVersion(store, userId, version, at);
}

/** The balance after `version`, its entry checked against the one before it. */
async function balanceOfVersion(store: LedgerStore, userId: string, version: number, at: Date): Promise<BalanceAtMoment> {
  if (version === 0) return { userId, balance: 0, version: 0, at };
  const [entry, before] = await Promise.all([
    entryAt(store, userId, version),
    version > 1 ? entryAt(store, userId, version - 1) : Promise.resolve(undefined),
  ]);
  verifyChain(userId, [entry], before);
  return { userId, balance: entry.balanceAfter, version, at };
}
