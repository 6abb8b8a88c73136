import { Types } from 'mongoose';
import type { AppliedLeg, LegChange } from '../../workflows/contract';
import { LedgerInvariantError } from './errors';
import { ENTRIES_ONLY, type LedgerEntryDocument } from './ledger-entry.model';
import type { LedgerStore } from './ledger-store';

/**
 * Latest entries of a wallet read by _id before the leg's idempotency key is asked: for a leg known
 * to be applied, and for a leg refused (most refusals are real: there the key has to answer anyway).
 */
export const LEG_LOOKBACK = { applied: 32, refused: 2 } as const;

/**
 * The entry of a leg applied at version `latest` or before. A leg applied again is nearly always one
 * of its wallet's latest entries (a retry, or a workflow task run again soon after its first run),
 * so the `lookback` latest are read first, by _id. Only then is the leg looked up by its idempotency
 * key: an index on MongoDB but a scan on FerretDB, which, run by hundreds of legs at once after a
 * stall, kept FerretDB saturated for good.
 */
export async function findAppliedLeg(
  store: LedgerStore,
  change: LegChange,
  latest: number,
  lookback: number,
): Promise<LedgerEntryDocument | null> {
  for (let version = latest; version >= 1 && version > latest - lookback; version--) {
    const entry = await store.entryAt(change.userId, version);
    if (entry && isSameLeg(entry, change)) return entry;
  }
  if (latest <= lookback) return null;
  return store.entries
    .findOne({
      transactionId: new Types.ObjectId(change.transactionId),
      userId: new Types.ObjectId(change.userId),
      leg: change.leg,
      ...ENTRIES_ONLY,
    })
    .lean<LedgerEntryDocument>()
    .exec();
}

export function isSameLeg(entry: LedgerEntryDocument, change: LegChange): boolean {
  return entry.transactionId?.toHexString() === change.transactionId && entry.leg === change.leg;
}

/** A leg found already applied must be the same change; anything else is a corrupted ledger. */
export function checkSameAmount(change: LegChange, existing: LedgerEntryDocument): void {
  if (existing.amount !== change.amount) {
    throw new LedgerInvariantError(
      `transaction ${change.transactionId} leg ${change.leg} of user ${change.userId} was applied with ` +
        `amount ${existing.amount}, now requested with ${change.amount}`,
    );
  }
}

export function toAppliedLeg(entry: LedgerEntryDocument): AppliedLeg {
  if (entry.leg === 'opening' || entry.transactionId === null) {
    throw new LedgerInvariantError(`entry ${entry._id} is not a transaction leg`);
  }
  return {
    transactionId: entry.transactionId.toHexString(),
    leg: entry.leg,
    userId: entry.userId.toHexString(),
    amount: entry.amount,
    balanceAfter: entry.balanceAfter,
    version: entry.version,
  };
}
