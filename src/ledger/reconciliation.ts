import { Types } from 'mongoose';
import type { ReconciliationReport, WalletDrift } from '../../workflows/contract';
import { ENTRIES_ONLY, type LedgerEntryDocument } from './ledger-entry.model';
import type { LedgerStore } from './ledger-store';
import type { WalletDocument } from './wallet.model';

/** Offending wallets or transfers reported at most, so a report stays readable (and fits a workflow failure). */
const MAX_REPORTED = 50;
/** Entries of one wallet read at once, by _id. */
const READ_BATCH = 16;
/** Transfers with one leg counted and the other not yet, held at most (memory stays bounded). */
const MAX_OPEN_TRANSFERS = 200_000;
/** Unbalanced transfers read again at the end, at most. */
const MAX_RECHECKED = 1_000;

export interface ReconciliationOptions {
  /** Brings a wallet document that lags its sound ledger up to date. */
  rollForward: (userId: string) => Promise<unknown>;
  /** Where a transaction stands: still being applied (its legs may stand unpaired), final with the legs it recorded, or unknown. */
  transaction: (transactionId: string) => Promise<TransactionStanding>;
  /** A transaction still being applied this long after it opened is stalled, not in flight. */
  stalledAfterMs: number;
  /** Called as the pass goes (an activity's heartbeat). */
  heartbeat?: (progress: { wallets: number; entries: number }) => void;
  /** Stops the pass (the activity was cancelled). */
  signal?: AbortSignal;
}

/** What the transaction record says of a transaction, for a transfer found unpaired. */
export type TransactionStanding =
  | { kind: 'inFlight'; openedAt: Date }
  /** Decided; a Failed one is undone after it is decided, so its legs may still be moving. */
  | { kind: 'final'; status: 'Completed' | 'Failed'; decidedAt: Date; legs: LegAt[] }
  /** No record: a transaction settled before records existed. */
  | { kind: 'unrecorded' };

/** A transfer counted in part: what its counted legs add up to, and where they are. */
interface OpenTransfer {
  net: number;
  legs: LegAt[];
}

type LegAt = { userId: string; version: number };

/** What the pass has counted so far. */
interface Tally {
  wallets: number;
  entries: number;
  totalBalance: number;
  toppedUp: number;
  /** Net of each transfer counted in part: one leg seen, its pair not (yet). */
  openTransfers: Map<string, OpenTransfer>;
  drift: WalletDrift[];
  repaired: string[];
  truncated: boolean;
}

/**
 * Checks every wallet against its ledger (versions gapless, each balanceAfter the previous plus the
 * amount, never negative, the wallet document at the ledger's head) and the platform against itself
 * (the balances add up to the money topped up; every transfer nets to zero).
 *
 * It walks one wallet at a time, reading its entries by _id, so memory holds one wallet and the
 * transfers whose legs it has seen only in part. Each wallet is judged at its head when it is read;
 * a transfer counted in part because it was still being applied, or because its other leg landed
 * after that wallet was read, is read again at the end and is not drift.
 */
export async function reconcile(store: LedgerStore, options: ReconciliationOptions): Promise<ReconciliationReport> {
  const tally: Tally = {
    wallets: 0,
    entries: 0,
    totalBalance: 0,
    toppedUp: 0,
    openTransfers: new Map(),
    drift: [],
    repaired: [],
    truncated: false,
  };
  for await (const wallet of store.wallets.find().lean<WalletDocument>().cursor()) {
    options.signal?.throwIfAborted();
    await checkWallet(store, wallet, tally, options);
    options.heartbeat?.({ wallets: tally.wallets, entries: tally.entries });
  }
  const { unbalanced, stalled, excusedNet } = await settleOpenTransfers(store, tally, options);
  const conserved = tally.totalBalance - tally.toppedUp === excusedNet;
  return {
    checkedAt: new Date().toISOString(),
    wallets: tally.wallets,
    entries: tally.entries,
    totalBalance: tally.totalBalance,
    toppedUp: tally.toppedUp,
    inFlight: excusedNet,
    unbalancedTransfers: unbalanced.slice(0, MAX_REPORTED),
    stalledTransfers: stalled.slice(0, MAX_REPORTED),
    drift: tally.drift.slice(0, MAX_REPORTED),
    repaired: tally.repaired.slice(0, MAX_REPORTED),
    truncated: tally.truncated || [tally.drift, unbalanced, stalled].some((listed) => listed.length > MAX_REPORTED),
    ok: tally.drift.length === 0 && unbalanced.length === 0 && stalled.length === 0 && conserved,
  };
}

/** Judges one wallet at its ledger's head as it is now, and counts what its entries add. */
async function checkWallet(store: LedgerStore, wallet: WalletDocument, tally: Tally, options: ReconciliationOptions): Promise<void> {
  tally.wallets++;
  const userId = wallet.userId.toHexString();
  const copied = wallet.version === 0 ? null : await store.entryAt(userId, wallet.version);
  if (wallet.version > 0 && !copied) {
    tally.drift.push({ userId, problem: `wallet is at version ${wallet.version}, which its ledger lacks` });
    return;
  }
  const headVersion = ((await store.newestAfter(userId, wallet.version)) ?? copied)?.version ?? 0;
  const walked = await walkLedger(store, userId, headVersion, tally);
  if ('problem' in walked) {
    tally.drift.push({ userId, problem: walked.problem });
  } else if (wallet.version < headVersion) {
    await options.rollForward(userId);
    tally.repaired.push(userId);
  } else if (wallet.balance !== walked.balance) {
    tally.drift.push({
      userId,
      problem: `wallet says ${wallet.balance} at version ${wallet.version}, its ledger ${walked.balance} at version ${headVersion}`,
    });
  }
}

/**
 * Reads a wallet's entries 1..headVersion by _id, a batch at a time, checking each link. Every entry
 * is counted, past a broken link too, so that one bad wallet does not leave its transfers unpaired.
 */
async function walkLedger(
  store: LedgerStore,
  userId: string,
  headVersion: number,
  tally: Tally,
): Promise<{ balance: number } | { problem: string }> {
  let previous = { balanceAfter: 0 };
  let firstProblem: string | undefined;
  for (let from = 1; from <= headVersion; from += READ_BATCH) {
    const versions = Array.from({ length: Math.min(READ_BATCH, headVersion - from + 1) }, (_, i) => from + i);
    const entries = await Promise.all(versions.map((version) => store.entryAt(userId, version)));
    for (const [i, entry] of entries.entries()) {
      firstProblem ??= linkProblem(entry, versions[i], previous);
      if (!entry) continue;
      count(entry, tally);
      previous = entry;
    }
  }
  tally.totalBalance += previous.balanceAfter;
  return firstProblem ? { problem: firstProblem } : { balance: previous.balanceAfter };
}

function linkProblem(entry: LedgerEntryDocument | null, version: number, previous: { balanceAfter: number }): string | undefined {
  if (!entry) return `ledger has no entry at version ${version}`;
  if (entry.balanceAfter !== previous.balanceAfter + entry.amount) {
    return `version ${version} has balanceAfter ${entry.balanceAfter}, expected ${previous.balanceAfter} + ${entry.amount}`;
  }
  if (entry.balanceAfter < 0 || !Number.isSafeInteger(entry.balanceAfter)) return `version ${version} has balance ${entry.balanceAfter}`;
  return undefined;
}

/** Counts an entry: money brought in, or one leg of a transfer (kept only while its transfer is unpaired). */
function count(entry: LedgerEntryDocument, tally: Tally): void {
  tally.entries++;
  if (entry.leg === 'opening' || entry.transactionType === 'TopUp') tally.toppedUp += entry.amount;
  if (entry.transactionType !== 'Transfer' || !entry.transactionId) return;
  const id = entry.transactionId.toHexString();
  const open = tally.openTransfers.get(id) ?? { net: 0, legs: [] };
  const net = open.net + entry.amount;
  if (net === 0) tally.openTransfers.delete(id);
  else if (tally.openTransfers.size < MAX_OPEN_TRANSFERS || tally.openTransfers.has(id)) {
    tally.openTransfers.set(id, { net, legs: [...open.legs, { userId: entry.userId.toHexString(), version: entry.version }] });
  } else tally.truncated = true;
}

/**
 * The transfers counted in part, looked at again: one whose record is undecided, or decided Failed
 * and not yet undone, is still moving (stalled, once it has been for longer than the bound); one
 * whose legs now add up to zero was moving when its wallets were read; the others are drift. Returns those, and the net of the moving ones, by
 * which the balances counted differ from the money counted in.
 */
async function settleOpenTransfers(
  store: LedgerStore,
  tally: Tally,
  options: ReconciliationOptions,
): Promise<{ unbalanced: string[]; stalled: string[]; excusedNet: number }> {
  const unbalanced: string[] = [];
  const stalled: string[] = [];
  const stalledBefore = Date.now() - options.stalledAfterMs;
  let excusedNet = 0;
  let rechecked = 0;
  for (const [transactionId, open] of tally.openTransfers) {
    options.signal?.throwIfAborted();
    if (++rechecked > MAX_RECHECKED) {
      tally.truncated = true;
      unbalanced.push(transactionId);
      continue;
    }
    const standing = await options.transaction(transactionId);
    if (standing.kind === 'inFlight') {
      excusedNet += open.net;
      if (standing.openedAt.getTime() < stalledBefore) stalled.push(transactionId);
    } else if ((await netNow(store, transactionId, standing, open.legs)) === 0) excusedNet += open.net;
    else if (standing.kind === 'final' && standing.status === 'Failed') {
      // Decided Failed, and its legs not all undone yet.
      excusedNet += open.net;
      if (standing.decidedAt.getTime() < stalledBefore) stalled.push(transactionId);
    } else unbalanced.push(transactionId);
  }
  return { unbalanced, stalled, excusedNet };
}

/**
 * What a transaction's entries add up to now: read by _id where the pass counted them and where its
 * record lists them; when those do not add up (legs written after the decision, or no record),
 * found by transactionId (a scan on FerretDB, an index on MongoDB).
 */
async function netNow(store: LedgerStore, transactionId: string, standing: TransactionStanding, counted: LegAt[]): Promise<number> {
  if (standing.kind === 'final') {
    const entries = await Promise.all(uniqueLegs([...counted, ...standing.legs]).map((leg) => store.entryAt(leg.userId, leg.version)));
    const net = entries.reduce((sum, entry) => sum + (entry?.amount ?? Number.NaN), 0);
    if (net === 0) return net;
  }
  const entries = await store.entries
    .find({ transactionId: new Types.ObjectId(transactionId), ...ENTRIES_ONLY }, { amount: 1 })
    .limit(16)
    .lean<LedgerEntryDocument[]>()
    .exec();
  return entries.reduce((sum, entry) => sum + entry.amount, 0);
}

function uniqueLegs(legs: LegAt[]): LegAt[] {
  return [...new Map(legs.map((leg) => [`${leg.userId}:${leg.version}`, leg])).values()];
}
