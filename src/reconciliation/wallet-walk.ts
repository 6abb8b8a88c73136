import { entryHash, GENESIS_HASH, type LedgerEntryDocument, latestEntryFrom, type LedgerStore } from '../ledger';
import type { WalletCheckpoint } from './reconciliation-store';

/** Entries of one wallet read at once, by _id. */
const READ_BATCH = 16;
/** Batches walked between two saved checkpoints of a long wallet (so a retried pass resumes inside it). */
const BATCHES_PER_SAVE = 64;

export interface WalkOptions {
  /** Told of every entry found sound, in version order. */
  onEntry?: (entry: LedgerEntryDocument) => void;
  /** Called after every batch (an activity's heartbeat). */
  heartbeat: (progress: { userId: string; version: number }) => void;
  /** Saves how far the walk got, now and then. */
  save: (reached: WalletCheckpoint) => Promise<void>;
  /** Seals entries written before entries were chained. Off, the walk only reads: an unsealed entry is a problem. */
  repair: boolean;
  /** Records where each leg walked is (the migration of a ledger from before leg locations). */
  recordLocations?: boolean;
  signal?: AbortSignal;
}

/** A walk's end: the last sound entry, the ledger's head when the walk began, and the first problem found. */
export interface Walked {
  /** No wallet document: none was opened (a party refused for it), or one is being opened. */
  absent?: boolean;
  reached: WalletCheckpoint;
  headVersion: number;
  entries: number;
  problem?: WalkProblem;
}

/** The first thing wrong with a wallet's ledger, and the version it was found at. */
export interface WalkProblem {
  version: number;
  problem: string;
}

/**
 * Walks a wallet's entries from a checkpoint to its head, by _id, checking each: versions gapless,
 * each balance the previous plus its amount and never negative, each hash over its fields and the
 * previous hash. An entry written before entries were chained is sealed on the way (the migration).
 * The walk stops at the first entry that fails, and reports it; everything before it stays verified.
 */
export async function walkWallet(store: LedgerStore, userId: string, from: WalletCheckpoint, options: WalkOptions): Promise<Walked> {
  const wallet = await store.walletOf(userId, { version: 1 });
  if (!wallet) return { absent: true, reached: from, headVersion: from.version, entries: 0 };
  let headVersion: number;
  try {
    headVersion = (await latestEntryFrom(store, userId, wallet.version))?.version ?? 0;
  } catch (error) {
    return {
      reached: from,
      headVersion: from.version,
      entries: 0,
      problem: { version: wallet.version, problem: (error as Error).message },
    };
  }
  const problem = await checkpointProblem(store, userId, from, headVersion);
  if (problem) return { reached: from, headVersion, entries: 0, problem: { version: from.version, problem } };

  let reached = from;
  let entries = 0;
  for (let next = from.version + 1, batches = 1; next <= headVersion; next += READ_BATCH, batches++) {
    options.signal?.throwIfAborted();
    const versions = Array.from({ length: Math.min(READ_BATCH, headVersion - next + 1) }, (_, i) => next + i);
    const batch = await Promise.all(versions.map((version) => store.entryAt(userId, version)));
    const sound: LedgerEntryDocument[] = [];
    const seals: LedgerEntryDocument[] = [];
    for (const [i, entry] of batch.entries()) {
      const hash = entry && entryHash(entry, reached.hash);
      const found = linkProblem(entry, versions[i], reached) ?? chainProblem(entry!, hash!, options.repair);
      if (found) {
        if (options.repair) await recordSound(store, sound, seals, options.recordLocations ?? false);
        return { reached, headVersion, entries, problem: { version: versions[i], problem: found } };
      }
      const sealed = entry!.hash === undefined;
      if (sealed) seals.push({ ...entry!, hash: hash! });
      reached = {
        version: entry!.version,
        hash: hash!,
        balance: entry!.balanceAfter,
        brought: reached.brought + (bringsMoneyIn(entry!) ? entry!.amount : 0),
      };
      sound.push(entry!);
      options.onEntry?.(entry!);
      entries++;
    }
    if (options.repair) await recordSound(store, sound, seals, options.recordLocations ?? false);
    options.heartbeat({ userId, version: reached.version });
    if (batches % BATCHES_PER_SAVE === 0) await options.save(reached);
  }
  return { reached, headVersion, entries };
}

/** Money brought into the platform: an opening balance, a top-up, or the undo of a top-up. */
export function bringsMoneyIn(entry: Pick<LedgerEntryDocument, 'leg' | 'transactionType'>): boolean {
  return entry.leg === 'opening' || entry.transactionType === 'TopUp';
}

/** The checkpoint must still be the chain's: its entry unchanged (its fields hash as verified), and the ledger not shorter. */
async function checkpointProblem(
  store: LedgerStore,
  userId: string,
  from: WalletCheckpoint,
  headVersion: number,
): Promise<string | undefined> {
  if (from.version === 0) return undefined;
  if (headVersion < from.version) return `ledger ends at version ${headVersion}, below its verified version ${from.version}`;
  const [previous, entry] = await Promise.all([
    from.version > 1 ? store.entryAt(userId, from.version - 1) : null,
    store.entryAt(userId, from.version),
  ]);
  const previousHash = from.version > 1 ? previous?.hash : GENESIS_HASH;
  if (!entry || previousHash === undefined || entryHash(entry, previousHash) !== from.hash) {
    return `version ${from.version}: changed since it was verified`;
  }
  return undefined;
}

function chainProblem(entry: LedgerEntryDocument, hash: string, repair: boolean): string | undefined {
  if (entry.hash === undefined) return repair ? undefined : `version ${entry.version}: not chained yet (a full reconciliation chains it)`;
  return entry.hash === hash ? undefined : `version ${entry.version}: its hash does not match its fields and the chain before it`;
}

function linkProblem(entry: LedgerEntryDocument | null, version: number, previous: WalletCheckpoint): string | undefined {
  if (!entry) return `ledger has no entry at version ${version}`;
  if (!Number.isSafeInteger(entry.amount) || entry.balanceAfter !== previous.balance + entry.amount) {
    return `version ${version} has balanceAfter ${entry.balanceAfter}, expected ${previous.balance} + ${entry.amount}`;
  }
  if (entry.balanceAfter < 0 || !Number.isSafeInteger(entry.balanceAfter)) return `version ${version} has balance ${entry.balanceAfter}`;
  return undefined;
}

/** Seals the entries written before entries were chained, and records where every leg walked is if asked. */
async function recordSound(
  store: LedgerStore,
  sound: LedgerEntryDocument[],
  seals: LedgerEntryDocument[],
  locations: boolean,
): Promise<void> {
  if (seals.length > 0) {
    await store.entryCollection.bulkWrite(
      seals.map((entry) => ({ updateOne: { filter: { _id: entry._id }, update: { $set: { hash: entry.hash } } } })),
      { ordered: false },
    );
  }
  if (locations) await store.recordLegLocations(sound);
}
