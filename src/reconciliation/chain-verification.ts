import { Types } from 'mongoose';
import type { LedgerStore, WalletDocument } from '../ledger';
import { WALLET_START } from './reconciliation-store';
import type { VerificationSlice } from '../domain';
import { walkWallet } from './wallet-walk';

/** Wallets one slice verifies at most. */
export const MAX_WALLETS_PER_SLICE = 1_000;

/** A wallet's chain head as verified: a statement's closing position can be checked against it. */
export interface ChainHead {
  userId: string;
  version: number;
  hash: string;
}

/** A slice verified, and with one wallet asked for, the head its chain was verified up to. */
export type VerifiedSlice = VerificationSlice & { head?: ChainHead };

export interface VerificationOptions {
  /** One wallet only; otherwise wallets in id order after `after`, at most `maxWallets`. */
  userId?: string;
  after?: string | null;
  maxWallets?: number;
  /** Called after every batch of entries (an activity's heartbeat). */
  heartbeat?: (progress: { wallets: number; entries: number; userId: string; version: number }) => void;
  signal?: AbortSignal;
}

/**
 * Walks wallets' chains from their first entry, reading only, and names for each the first entry
 * whose fields do not hash to its stored hash, or whose links (version, balance) do not follow. Works
 * in slices, so that a ledger of any size is verified in bounded steps, each resumable from `next`.
 */
export async function verifyChains(store: LedgerStore, options: VerificationOptions): Promise<VerifiedSlice> {
  const limit = Math.min(options.maxWallets ?? MAX_WALLETS_PER_SLICE, MAX_WALLETS_PER_SLICE);
  const filter = options.userId
    ? { userId: new Types.ObjectId(options.userId) }
    : options.after
      ? { _id: { $gt: new Types.ObjectId(options.after) } }
      : {};
  const wallets = await store.wallets.find(filter, { _id: 1, userId: 1 }).sort({ _id: 1 }).limit(limit).lean<WalletDocument[]>().exec();
  const slice: VerifiedSlice = { wallets: 0, entries: 0, broken: [], next: null };
  for (const wallet of wallets) {
    const userId = wallet.userId.toHexString();
    const walked = await walkWallet(store, userId, WALLET_START, {
      heartbeat: ({ version }) => options.heartbeat?.({ wallets: slice.wallets, entries: slice.entries, userId, version }),
      save: async () => undefined,
      repair: false,
      signal: options.signal,
    });
    slice.wallets++;
    slice.entries += walked.entries;
    if (walked.problem) slice.broken.push({ userId, ...walked.problem });
    if (options.userId) slice.head = { userId, version: walked.reached.version, hash: walked.reached.hash };
  }
  slice.next = !options.userId && wallets.length === limit ? wallets[wallets.length - 1]._id.toHexString() : null;
  return slice;
}
