import { GENESIS_HASH, verifyChain, verifyHashes, type ChainLink } from './chain';
import { LedgerInvariantError } from './errors';
import { toHistoryEntry, type HistoryEntry, type LedgerEntryDocument } from './model';
import { openStatement, type StatementRange, type StatementReading, type WalletStatement } from './statement';
import { latestEntryFrom, type LedgerStore, entryAt, firstVersionReaching, ledgerHeadOf } from './store';

// The read side: a wallet, its history page by page, its balance at a moment, and the feed the live
// updates follow; every entry read is checked against the chain as it comes (see checkReadBack).

export interface WalletView {
  id: string;
  userId: string;
  balance: number;
  createdAt: Date;
  updatedAt: Date;
}

export interface HistoryPage {
  entries: HistoryEntry[];
  /** The version below which the next (older) page starts, or null on the last page. */
  nextBeforeVersion: number | null;
}

/**
 * What clients may see of a wallet, read through to its ledger: a balance is always the one the
 * latest ledger entry records, and every page of history is checked as it is read back. Every read
 * is by _id (see the keys in model.ts), so it costs the same however long the ledger grows.
 */
export class WalletReader {
  constructor(private readonly store: LedgerStore) {}

  async walletOf(userId: string): Promise<WalletView | null> {
    const wallet = await this.store.walletOf(userId);
    if (!wallet) return null;
    const head = await this.latestEntry(userId, wallet.version);
    const ahead = head !== null && head.version > wallet.version;
    // Where the document is current, it must say what its entry says.
    if (!ahead && wallet.balance !== (head?.balanceAfter ?? 0)) {
      throw new LedgerInvariantError(`wallet of user ${userId} holds ${wallet.balance}, its ledger ${head?.balanceAfter ?? 0}`);
    }
    return {
      id: wallet._id.toHexString(),
      userId,
      balance: head?.balanceAfter ?? wallet.balance,
      createdAt: wallet.createdAt,
      updatedAt: ahead ? head.createdAt : wallet.updatedAt,
    };
  }

  /** Entries newest first, `limit` at most, strictly below `beforeVersion` when given. */
  async historyOf(userId: string, limit: number, beforeVersion?: number): Promise<HistoryPage> {
    const wallet = await this.store.walletOf(userId, { version: 1 });
    if (!wallet) return { entries: [], nextBeforeVersion: null };
    const latest = (await this.latestEntry(userId, wallet.version))?.version ?? 0;
    const top = Math.min(latest, (beforeVersion ?? Number.POSITIVE_INFINITY) - 1);
    // One entry more than the page: it tells whether an older page exists and anchors the check.
    const versions = Array.from({ length: Math.min(limit + 1, top) }, (_, i) => top - i);
    const found = await Promise.all(versions.map((version) => this.store.entryAt(userId, version)));
    if (found.some((entry) => entry === null)) {
      throw new LedgerInvariantError(`ledger of user ${userId} has a gap below version ${top}`);
    }
    const entries = found as LedgerEntryDocument[];
    const page = entries.slice(0, limit);
    const older = entries[limit];
    checkReadBack(userId, [...page].reverse(), older);
    return {
      entries: page.map(toHistoryEntry),
      nextBeforeVersion: older ? page[page.length - 1].version : null,
    };
  }

  /** The balance at a moment (the latest without one); null without a wallet. */
  balanceAt(userId: string, at?: Date): Promise<BalanceAtMoment | null> {
    return balanceAt(this.store, userId, at);
  }

  /** A statement of the entries in `range`, to be read batch by batch; null without a wallet. */
  statementOf(userId: string, range: StatementRange, reading: StatementReading): Promise<WalletStatement | null> {
    return openStatement(this.store, userId, range, reading);
  }

  /** Where a follower of the wallet's entries resumes after `version`, or starts (just before the latest entry). */
  feedPosition(userId: string, afterVersion?: number): Promise<FeedPosition | null | undefined> {
    return afterVersion === undefined ? positionBeforeLatest(this.store, userId) : positionAfter(this.store, userId, afterVersion);
  }

  /** The entries after a follower's position, up to `max`. */
  entriesAfter(userId: string, position: FeedPosition, max: number): Promise<{ entries: HistoryEntry[]; position: FeedPosition }> {
    return entriesAfter(this.store, userId, position, max);
  }

  private latestEntry(userId: string, version: number): Promise<LedgerEntryDocument | null> {
    return latestEntryFrom(this.store, userId, version);
  }
}

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
  checkReadBack(userId, [entry], before);
  return { userId, balance: entry.balanceAfter, version, at };
}

// A wallet's entries in version order for a reader that follows the ledger as it grows (the live
// updates): each read picks up after the last entry the reader has, by _id, so whatever told the
// reader to look (a hint, a timer), it gets every entry once, in order, checked against the previous.

/** The last entry a reader has: version 0 before the wallet's first entry. */
export type FeedPosition = ChainLink & { hash: string | null };

const START: FeedPosition = { version: 0, amount: 0, balanceAfter: 0, hash: GENESIS_HASH };

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
  checkReadBack(userId, found, position);
  const last = found[found.length - 1];
  return { entries: found.map(toHistoryEntry), position: last ? linkOf(last) : position };
}

function linkOf(entry: LedgerEntryDocument): FeedPosition {
  return { version: entry.version, amount: entry.amount, balanceAfter: entry.balanceAfter, hash: entry.hash ?? null };
}

/**
 * Checks entries read back, in ascending versions, against the one just below them (none from
 * version 1): the chain's arithmetic, and each entry's hash over its fields and its predecessor's
 * hash, so an entry rewritten in the database is refused even where its balances still add up.
 */
function checkReadBack(
  userId: string,
  entries: readonly LedgerEntryDocument[],
  before: (ChainLink & { hash?: string | null }) | undefined,
): void {
  verifyChain(userId, entries, before);
  verifyHashes(userId, entries, before ? (before.hash ?? null) : GENESIS_HASH);
}
