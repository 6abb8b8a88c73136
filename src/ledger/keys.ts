import { createHash } from 'node:crypto';
import { Types } from 'mongoose';

// Document ids the ledger derives instead of searching for. FerretDB's SQLite backend serves only a
// lookup by _id from an index (in the local stack's build: see scripts/stack.sh) and scans the whole
// collection for anything else, so every read on the money path is a read by _id (MongoDB answers
// both from indexes).

/** A wallet's id, derived from its user's id: stable, distinct from it, found without an index. */
export function walletIdOf(userId: string): Types.ObjectId {
  return new Types.ObjectId(createHash('sha256').update(`wallet:${userId.toLowerCase()}`).digest().subarray(0, 12));
}

/** A ledger entry's id is its wallet and version: the primary key itself claims the version. */
export function ledgerEntryIdOf(userId: string, version: number): string {
  return `${userId.toLowerCase()}:${version}`;
}

/** The id of a voided forward leg: found by _id whoever asks whether the leg is void. */
export function voidedLegIdOf(transactionId: string, userId: string, leg: string): string {
  return `void:${transactionId.toLowerCase()}:${userId.toLowerCase()}:${leg}`;
}

/**
 * Where a leg of a transaction is found: `<transactionId>:<leg>:<in|out>`. A transaction moves money
 * out of one wallet and into one other, so its leg and direction name one wallet: every leg of a
 * transaction is found by _id without knowing its parties (debit:out, credit:in, and an undo of
 * either in the opposite direction).
 */
export function legIdOf(transactionId: string, leg: string, amount: number): string {
  return `${transactionId.toLowerCase()}:${leg}:${amount < 0 ? 'out' : 'in'}`;
}

/** Every place a leg of one transaction can be found (see legIdOf). */
export function legIdsOfTransaction(transactionId: string): string[] {
  const id = transactionId.toLowerCase();
  return [
    `${id}:debit:out`,
    `${id}:credit:in`,
    ...['compensation', 'reversal'].flatMap((undo) => [`${id}:${undo}:in`, `${id}:${undo}:out`]),
  ];
}
