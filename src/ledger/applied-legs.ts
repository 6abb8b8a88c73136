import type { AppliedLeg, LegChange } from '../domain';
import { LedgerInvariantError } from './errors';
import type { LedgerEntryDocument } from './ledger-entry.model';
import type { LedgerStore } from './ledger-store';

/**
 * Entries of a wallet read back from its head, by _id, for a leg whose location was not recorded
 * (its writer died between the entry and the location): for a leg known to be applied (its key is
 * taken), and for a leg refused (only a retry of a leg that took the balance it now lacks).
 */
export const LEG_LOOKBACK = { applied: 2_000, refused: 2 } as const;
/** Entries read back at once. */
const LOOKBACK_BATCH = 16;

/**
 * The entry of a leg applied at version `latest` or before: where its location says, or else among
 * the `lookback` latest entries of its wallet (the location is then recorded). Every read is by _id,
 * so finding a leg costs the same however long the ledger grows; null when it is not found.
 */
export async function findAppliedLeg(
  store: LedgerStore,
  change: LegChange,
  latest: number,
  lookback: number,
): Promise<LedgerEntryDocument | null> {
  const located = await store.legEntry(change);
  if (located) return located;
  const lowest = Math.max(1, latest - lookback + 1);
  for (let to = latest; to >= lowest; to -= LOOKBACK_BATCH) {
    const versions = Array.from({ length: Math.min(LOOKBACK_BATCH, to - lowest + 1) }, (_, i) => to - i);
    const entries = await Promise.all(versions.map((version) => store.entryAt(change.userId, version)));
    const found = entries.find((entry) => entry && isSameLeg(entry, change));
    if (found) {
      await store.recordLegLocations([found]);
      return found;
    }
  }
  return null;
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
