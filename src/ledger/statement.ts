import { GENESIS_HASH, verifyChain, verifyHashes, type ChainLink } from './chain';
import { LedgerInvariantError } from './errors';
import { toHistoryEntry, type HistoryEntry, type LedgerEntryDocument } from './model';
import { entryAt, firstVersionReaching, ledgerHeadOf, type LedgerStore } from './store';

// Statements: a wallet's entries over a range between its opening and closing balances, streamed in
// batches, with totals checked against the balances and the chain head the statement covers.

/** The entries with `from <= createdAt < to`. */
export interface StatementRange {
  from: Date;
  to: Date;
}

export interface StatementReading {
  /** Entries read by _id per batch, and how many of those reads run at once. */
  batchSize: number;
  readConcurrency: number;
}

/**
 * A balance, the version of the entry that set it (0 before the wallet's first entry) and that
 * entry's chain hash: a statement's closing position is the chain head it covers, which the wallet's
 * ledger can be checked against later (null for an entry written before entries were chained).
 */
export interface BalancePosition {
  balance: number;
  version: number;
  hash: string | null;
}

/** An entry of a statement: as the history shows it, with its chain hash. */
export type StatementEntry = HistoryEntry & { hash: string | null };

/**
 * Finds where a statement starts and ends in a wallet's ledger (binary search over versions, see
 * the entry times in store.ts) as the ledger stands when it is opened. Null for a wallet that does not exist.
 */
export async function openStatement(
  store: LedgerStore,
  userId: string,
  range: StatementRange,
  reading: StatementReading,
): Promise<WalletStatement | null> {
  const head = await ledgerHeadOf(store, userId);
  if (head === undefined) return null;
  const headVersion = head?.version ?? 0;
  const first = await firstVersionReaching(store, userId, headVersion, (createdAt) => createdAt >= range.from);
  const end = await firstVersionReaching(store, userId, headVersion, (createdAt) => createdAt >= range.to, first);
  const opening = first > 1 ? await entryAt(store, userId, first - 1) : undefined;
  return new WalletStatement(store, userId, range, reading, opening, { first, end });
}

/**
 * The entries of one statement, read a batch at a time by _id (the next batch read while the
 * current one is written), each checked as it is read: versions gapless and each balance the
 * previous plus its amount, times within the range and never decreasing, and the running totals
 * explaining every balance. Memory holds two batches, whatever the statement's length.
 */
export class WalletStatement {
  readonly opening: BalancePosition;
  private closingPosition: (BalancePosition & { totals: StatementTotals }) | undefined;

  constructor(
    private readonly store: LedgerStore,
    readonly userId: string,
    readonly range: StatementRange,
    private readonly reading: StatementReading,
    private readonly openingEntry: LedgerEntryDocument | undefined,
    private readonly versions: { first: number; end: number },
  ) {
    this.opening = positionOf(openingEntry);
  }

  async *batches(): AsyncGenerator<StatementEntry[]> {
    const { first, end } = this.versions;
    const tally = new StatementTally(this.userId, this.opening.balance);
    let previous: LedgerEntryDocument | undefined = this.openingEntry;
    let chainHash = this.opening.hash;
    let previousTime = this.range.from;
    let next = first < end ? this.readBatch(first, end) : undefined;
    for (let start = first; next; start += this.reading.batchSize) {
      const batch = await next;
      const following = start + this.reading.batchSize;
      next = following < end ? this.readBatch(following, end) : undefined;
      verifyChain(this.userId, batch, previous);
      chainHash = verifyHashes(this.userId, batch, chainHash);
      for (const entry of batch) {
        this.checkTime(entry, previousTime);
        tally.add(entry);
        previousTime = entry.createdAt;
      }
      previous = batch[batch.length - 1];
      yield batch.map((entry) => ({ ...toHistoryEntry(entry), hash: entry.hash ?? null }));
    }
    const closing = positionOf(previous);
    this.closingPosition = { ...closing, totals: tally.close(closing.balance) };
  }

  /** The closing balance and totals, once every batch has been read and checked. */
  get closing(): BalancePosition & { totals: StatementTotals } {
    if (!this.closingPosition) throw new Error('the statement is closed only once all its entries are read');
    return this.closingPosition;
  }

  private checkTime(entry: LedgerEntryDocument, previousTime: Date): void {
    const { from, to } = this.range;
    if (entry.createdAt < previousTime || entry.createdAt < from || entry.createdAt >= to) {
      throw new LedgerInvariantError(
        `statement of user ${this.userId}: version ${entry.version} is stamped ${entry.createdAt.toISOString()}, ` +
          `out of order or outside ${from.toISOString()}..${to.toISOString()}`,
      );
    }
  }

  /** Versions start..min(start + batchSize, end) - 1, each by _id, `readConcurrency` at a time. */
  private readBatch(start: number, end: number): Promise<LedgerEntryDocument[]> {
    const versions = Array.from({ length: Math.min(this.reading.batchSize, end - start) }, (_, i) => start + i);
    const batch = readAll(versions, this.reading.readConcurrency, (version) => entryAt(this.store, this.userId, version));
    // Read ahead of its writer: a reader that stops early (the client went away) leaves it unawaited.
    void batch.catch(() => undefined);
    return batch;
  }
}

function positionOf(entry: LedgerEntryDocument | undefined): BalancePosition {
  if (!entry) return { balance: 0, version: 0, hash: GENESIS_HASH };
  return { balance: entry.balanceAfter, version: entry.version, hash: entry.hash ?? null };
}

async function readAll<T>(versions: number[], concurrency: number, read: (version: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(versions.length);
  let nextIndex = 0;
  const worker = async () => {
    while (nextIndex < versions.length) {
      const index = nextIndex++;
      results[index] = await read(versions[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, versions.length) }, worker));
  return results;
}

export interface StatementTotals {
  /** Sum of the positive amounts. */
  credits: number;
  /** Sum of the negative amounts (itself negative), so that opening + credits + debits = closing. */
  debits: number;
  entries: number;
}

/**
 * Adds up a statement as its entries are written and checks, at every entry, that the opening
 * balance plus what was added so far is the balance the entry records: a statement whose totals do
 * not explain its closing balance is never finished.
 */
export class StatementTally {
  private credits = 0;
  private debits = 0;
  private entries = 0;
  private balance: number;

  constructor(
    private readonly userId: string,
    readonly openingBalance: number,
  ) {
    this.balance = openingBalance;
  }

  add(entry: ChainLink): void {
    if (entry.amount > 0) this.credits += entry.amount;
    else this.debits += entry.amount;
    this.entries++;
    this.balance = this.openingBalance + this.credits + this.debits;
    if (!Number.isSafeInteger(this.balance) || this.balance !== entry.balanceAfter) {
      throw new LedgerInvariantError(
        `statement of user ${this.userId}: opening ${this.openingBalance} + credits ${this.credits} + debits ${this.debits} ` +
          `is ${this.balance}, but version ${entry.version} records ${entry.balanceAfter}`,
      );
    }
  }

  /** The totals, once the closing balance is known to be what they add up to. */
  close(closingBalance: number): StatementTotals {
    if (this.openingBalance + this.credits + this.debits !== closingBalance) {
      throw new LedgerInvariantError(
        `statement of user ${this.userId}: opening ${this.openingBalance} + credits ${this.credits} + debits ${this.debits} ≠ closing ${closingBalance}`,
      );
    }
    return { credits: this.credits, debits: this.debits, entries: this.entries };
  }
}
