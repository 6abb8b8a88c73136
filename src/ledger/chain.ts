import { createHash } from 'node:crypto';
import { BalanceLimitExceededError, InsufficientBalanceError, LedgerInvariantError } from './errors';

// The arithmetic of a wallet's ledger, free of I/O: how the next entry follows from the wallet's
// head, how each entry seals the one before it, and how a stretch of entries is checked when it is
// read back.

export interface WalletHead {
  userId: string;
  balance: number;
  version: number;
  /** When the wallet's latest entry was stamped; null before its first entry. */
  latestEntryAt: Date | null;
  /**
   * The chain hash of the wallet's latest entry (GENESIS_HASH before its first); null when that
   * entry was written before entries were chained and has not been sealed yet (see sealChain).
   */
  hash: string | null;
}

/** The hash a wallet's first entry links to. */
export const GENESIS_HASH = '0'.repeat(64);

/** The fields of an entry its hash covers: all of them but its own id, which they determine. */
export interface HashedFields {
  userId: { toHexString(): string };
  version: number;
  transactionId: { toHexString(): string } | null;
  transactionType: string | null;
  leg: string;
  amount: number;
  balanceAfter: number;
  counterpartyUserId: { toHexString(): string } | null;
  createdAt: Date;
  underRecord?: boolean;
}

/**
 * An entry's link in its wallet's chain: SHA-256 over the previous entry's hash and every field of
 * this one. Changing any field of any entry, or removing or reordering entries, changes every hash
 * after it, so a chain head kept elsewhere (a checkpoint, a customer's statement) proves the ledger
 * it covers was not rewritten.
 */
export function entryHash(fields: HashedFields, previousHash: string): string {
  const canonical = JSON.stringify([
    previousHash,
    fields.userId.toHexString(),
    fields.version,
    fields.transactionId?.toHexString() ?? null,
    fields.transactionType,
    fields.leg,
    fields.amount,
    fields.balanceAfter,
    fields.counterpartyUserId?.toHexString() ?? null,
    fields.createdAt.getTime(),
    fields.underRecord === true,
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

export interface ChainLink {
  version: number;
  amount: number;
  balanceAfter: number;
}

/** The balance and version an entry of `amount` produces on top of `head`, or the rule it breaks. */
export function nextLink(head: WalletHead, amount: number): ChainLink {
  if (!Number.isSafeInteger(amount) || amount === 0) {
    throw new LedgerInvariantError(`ledger amount must be a non-zero safe integer, got ${amount}`);
  }
  assertHead(head);
  const balanceAfter = head.balance + amount;
  if (balanceAfter < 0) throw new InsufficientBalanceError(head.userId, head.balance, amount);
  if (!Number.isSafeInteger(balanceAfter)) throw new BalanceLimitExceededError(head.userId);
  return { version: head.version + 1, amount, balanceAfter };
}

/**
 * When the next entry of a wallet is stamped: this process's clock, but never earlier than the
 * wallet's previous entry (another replica's clock may run ahead). Times then never decrease along a
 * wallet's versions, which is what lets a read find the entries of a moment by binary search.
 */
export function nextEntryTime(head: WalletHead, now: Date): Date {
  return head.latestEntryAt && head.latestEntryAt > now ? new Date(head.latestEntryAt) : now;
}

function assertHead(head: WalletHead): void {
  if (!Number.isSafeInteger(head.balance) || head.balance < 0) {
    throw new LedgerInvariantError(`wallet of user ${head.userId} has an invalid balance ${head.balance}`);
  }
  if (!Number.isSafeInteger(head.version) || head.version < 0) {
    throw new LedgerInvariantError(`wallet of user ${head.userId} has an invalid version ${head.version}`);
  }
}

/**
 * Checks entries of one wallet in ascending version order: versions consecutive, every balance
 * non-negative, every balanceAfter the previous one plus the amount. `before` is the entry just
 * below the first one (absent when the stretch starts at version 1, whose predecessor is balance 0).
 */
export function verifyChain(userId: string, entries: readonly ChainLink[], before?: ChainLink): void {
  let previous = before ?? { version: 0, amount: 0, balanceAfter: 0 };
  for (const entry of entries) {
    if (entry.version !== previous.version + 1) {
      throw new LedgerInvariantError(`ledger of user ${userId}: version ${entry.version} follows ${previous.version}`);
    }
    if (entry.balanceAfter !== previous.balanceAfter + entry.amount) {
      throw new LedgerInvariantError(
        `ledger of user ${userId}: version ${entry.version} has balanceAfter ${entry.balanceAfter}, ` +
          `expected ${previous.balanceAfter} + ${entry.amount}`,
      );
    }
    if (entry.balanceAfter < 0 || !Number.isSafeInteger(entry.balanceAfter)) {
      throw new LedgerInvariantError(`ledger of user ${userId}: version ${entry.version} balance ${entry.balanceAfter}`);
    }
    previous = entry;
  }
}

/**
 * Checks that each entry's hash covers its fields and the one before it, from `previousHash` (null
 * when unknown: entries written before entries were chained, not yet sealed). Returns the hash of the
 * last entry, or null where the chain cannot be followed.
 */
export function verifyHashes(
  userId: string,
  entries: ReadonlyArray<HashedFields & { hash?: string }>,
  previousHash: string | null,
): string | null {
  let previous = previousHash;
  for (const entry of entries) {
    if (previous === null || entry.hash === undefined) {
      previous = entry.hash ?? null;
      continue;
    }
    if (entry.hash !== entryHash(entry, previous)) {
      throw new LedgerInvariantError(`ledger of user ${userId}: version ${entry.version} does not hash to its stored hash`);
    }
    previous = entry.hash;
  }
  return previous;
}
