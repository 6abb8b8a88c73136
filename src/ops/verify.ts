import type { LedgerStore } from '../ledger';
import type { ChainBreak } from '../domain';
import { verifyChains, type ChainHead } from '../reconciliation/chain-verification';

/** Broken wallets listed at most. */
const MAX_REPORTED = 50;

/** A chain head a customer kept (a statement's closing version and hash). */
export interface KeptHead {
  version: number;
  hash: string;
}

export interface LedgerVerification {
  wallets: number;
  entries: number;
  broken: ChainBreak[];
  truncated: boolean;
  /** With one wallet: the head its chain was verified up to. */
  head?: ChainHead;
  /** With a kept head: whether the verified chain holds that entry with that hash. */
  keptHead?: KeptHead & { holds: boolean };
  ok: boolean;
}

/**
 * `npm run ops -- verify`: re-walks the chains of every wallet (or one), slice by slice from
 * `after`, reading only, and names the first entry of each wallet whose fields or links do not match.
 * With a kept head it says whether the ledger still holds what a statement ended with.
 */
export async function verifyLedger(
  store: LedgerStore,
  { userId, after = null, keptHead }: { userId?: string; after?: string | null; keptHead?: KeptHead },
  progress: (slice: { wallets: number; entries: number; next: string | null }) => void = () => undefined,
): Promise<LedgerVerification> {
  const total: LedgerVerification = { wallets: 0, entries: 0, broken: [], truncated: false, ok: true };
  let next = after;
  do {
    const slice = await verifyChains(store, { userId, after: next });
    total.wallets += slice.wallets;
    total.entries += slice.entries;
    total.broken.push(...slice.broken);
    total.head = slice.head;
    next = slice.next;
    progress({ wallets: total.wallets, entries: total.entries, next });
  } while (next !== null);
  if (keptHead && userId) total.keptHead = { ...keptHead, holds: await holds(store, userId, keptHead, total) };
  total.truncated = total.broken.length > MAX_REPORTED;
  total.broken = total.broken.slice(0, MAX_REPORTED);
  total.ok = total.broken.length === 0 && total.keptHead?.holds !== false;
  return total;
}

/** The kept head holds when the chain verified through its version and the entry there has its hash. */
async function holds(store: LedgerStore, userId: string, kept: KeptHead, verified: LedgerVerification): Promise<boolean> {
  if (verified.broken.some((broken) => broken.version <= kept.version)) return false;
  if (!verified.head || verified.head.version < kept.version) return false;
  if (kept.version === 0) return true;
  return (await store.entryAt(userId, kept.version))?.hash === kept.hash;
}
