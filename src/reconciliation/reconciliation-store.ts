import type { Connection, mongo } from 'mongoose';
import { createCollection } from '../database/connection';
import { isDuplicateKey } from '../database/duplicate-key';
import { GENESIS_HASH } from '../ledger';

/** Where the reconciliation last verified a wallet: its version and chain hash, and what its entries add up to there. */
export interface WalletCheckpoint {
  version: number;
  hash: string;
  balance: number;
  /** Money brought in on this wallet up to the version: its opening and top-ups, net of their reversals. */
  brought: number;
}

/** A wallet before its first entry. */
export const WALLET_START: WalletCheckpoint = { version: 0, hash: GENESIS_HASH, balance: 0, brought: 0 };

export type PassMode = 'full' | 'incremental';

/** The platform's totals at a committed pass: the sum of every wallet's checkpoint. */
export interface Totals {
  totalBalance: number;
  brought: number;
}

/**
 * A wallet's checkpoint as a pass leaves it. `current` counts once its pass is committed; until
 * then (a pass still running, or one that died) the wallet stands at `base`, the checkpoint it had
 * when that pass began.
 */
interface CheckpointDocument {
  _id: string;
  pass: number;
  current: WalletCheckpoint;
  base: WalletCheckpoint;
}

/** A committed pass: insert-once, so a pass is committed at most once. */
interface PassDocument {
  _id: string;
  kind: 'pass';
  pass: number;
  mode: PassMode;
  owner: string;
  totals: Totals;
  committedAt: Date;
}

/** Who runs a pass: `lease:<pass>:<k>`; a lease left unrenewed is taken over by inserting the next k. */
interface LeaseDocument {
  _id: string;
  kind: 'lease';
  owner: string;
  mode: PassMode;
  renewedAt: Date;
}

/** How far a full pass got, for the attempt that resumes it. */
export interface FullPassProgress {
  /** The last wallet walked, in wallet _id order. */
  after: string | null;
  totals: Totals;
  wallets: number;
  entries: number;
}

interface ProgressDocument extends FullPassProgress {
  _id: string;
  kind: 'progress';
}

/** The latest pass committed, as a hint (the pass documents are the truth). */
interface LatestDocument {
  _id: 'latest';
  kind: 'latest';
  pass: number;
}

/** What the latest pass found, for the metrics: one document, moved forward by each pass that ends. */
export interface PassOutcome {
  pass: number;
  ok: boolean;
  checkedAt: Date;
  /** When a pass last found everything in order (kept across passes that did not). */
  lastOkAt: Date | null;
  unbalanced: number;
  stalled: number;
  drifted: number;
}

interface OutcomeDocument extends PassOutcome {
  _id: 'outcome';
  kind: 'outcome';
}

type PassesDocument = PassDocument | LeaseDocument | ProgressDocument | LatestDocument | OutcomeDocument;

/** A pass's lease as its holder knows it. */
export interface PassLease {
  pass: number;
  /** Takeovers before this lease. */
  k: number;
  mode: PassMode;
}

/** Takeovers of one pass at most. */
const MAX_LEASES = 100;

/** A lease renewed less recently than this is abandoned (its activity's start-to-close is 30 minutes). */
export const LEASE_ABANDONED_AFTER_MS = 35 * 60_000;

/** Another owner runs this pass. */
export class PassInProgressError extends Error {
  constructor(
    readonly pass: number,
    readonly owner: string,
    readonly renewedAt: Date,
  ) {
    super(`reconciliation pass ${pass} is being run by ${owner} (last progress ${renewedAt.toISOString()})`);
    this.name = 'PassInProgressError';
  }
}

/**
 * What the reconciliation keeps between passes: a checkpoint per wallet, and per pass its lease,
 * its progress and, once committed, the platform's totals. Every write is by _id; the commit is an
 * insert-once, so a pass is counted into the totals exactly once.
 */
export class ReconciliationStore {
  private readonly checkpoints: mongo.Collection<CheckpointDocument>;
  private readonly passes: mongo.Collection<PassesDocument>;

  constructor(private readonly connection: Connection) {
    this.checkpoints = connection.collection<CheckpointDocument>('reconciliation_checkpoints');
    this.passes = connection.collection<PassesDocument>('reconciliation_passes');
  }

  async ensureCollections(): Promise<void> {
    await Promise.all([
      createCollection(this.connection, 'reconciliation_checkpoints'),
      createCollection(this.connection, 'reconciliation_passes'),
    ]);
  }

  /** The latest committed pass (0 before any) and its totals. */
  async latestCommitted(): Promise<{ pass: number; mode: PassMode | null; totals: Totals }> {
    const hint = (await this.passes.findOne({ _id: 'latest' })) as LatestDocument | null;
    let pass = hint?.pass ?? 0;
    // The hint is written after the commit: a pass committed just before a crash is found past it.
    while (await this.passAt(pass + 1)) pass++;
    const committed = pass > 0 ? await this.passAt(pass) : null;
    return { pass, mode: committed?.mode ?? null, totals: committed?.totals ?? { totalBalance: 0, brought: 0 } };
  }

  /**
   * Takes the lease of a pass for `owner` (an owner that already holds it, a retried activity, keeps
   * it), or takes over a lease abandoned for longer than LEASE_ABANDONED_AFTER_MS. Returns the mode
   * the pass runs in and the lease held. A pass keeps the mode it was begun in, whoever finishes it
   * (a full pass's checkpoints count from a wallet's first entry), unless a full pass is asked for.
   */
  async lease(pass: number, owner: string, mode: PassMode, now = new Date()): Promise<PassLease> {
    let runAs = mode;
    for (let k = 0; k < MAX_LEASES;) {
      const current = (await this.passes.findOne({ _id: leaseId(pass, k) })) as LeaseDocument | null;
      if (!current) {
        if (await this.insertOnce({ _id: leaseId(pass, k), kind: 'lease', owner, mode: runAs, renewedAt: now }))
          return { pass, k, mode: runAs };
        continue;
      }
      runAs = mode === 'full' ? 'full' : current.mode;
      if (await this.passes.findOne({ _id: leaseId(pass, k + 1) }, { projection: { _id: 1 } })) {
        k++;
        continue;
      }
      if (current.owner === owner) return { pass, k, mode: runAs };
      if (now.getTime() - current.renewedAt.getTime() < LEASE_ABANDONED_AFTER_MS) {
        throw new PassInProgressError(pass, current.owner, current.renewedAt);
      }
      k++;
    }
    throw new Error(`reconciliation pass ${pass} was taken over ${MAX_LEASES} times`);
  }

  /** Records that the holder is still at work (only the holder of a lease writes it). */
  async renewLease(lease: PassLease): Promise<void> {
    await this.passes.updateOne({ _id: leaseId(lease.pass, lease.k) }, { $set: { renewedAt: new Date() } });
  }

  /** Whether the lease is still the pass's latest (nobody took it over). */
  async stillHeld(lease: PassLease): Promise<boolean> {
    return (await this.passes.findOne({ _id: leaseId(lease.pass, lease.k + 1) }, { projection: { _id: 1 } })) === null;
  }

  /** Commits a pass with the platform's totals; false when it was committed already (by an earlier attempt). */
  commit(pass: number, mode: PassMode, owner: string, totals: Totals): Promise<boolean> {
    return this.insertOnce({ _id: passId(pass), kind: 'pass', pass, mode, owner, totals, committedAt: new Date() });
  }

  /** Moves the hint to a committed pass. */
  async noteLatest(pass: number): Promise<void> {
    await this.passes.updateOne({ _id: 'latest' }, { $set: { kind: 'latest', pass } }, { upsert: true });
  }

  /** The checkpoint a wallet stands at given the committed passes, and what pass `pass` has written for it so far. */
  async checkpointOf(
    userId: string,
    committedPass: number,
    pass: number,
  ): Promise<{ committed: WalletCheckpoint; inPass: WalletCheckpoint | null }> {
    const document = await this.checkpoints.findOne({ _id: userId });
    if (!document) return { committed: WALLET_START, inPass: null };
    if (document.pass <= committedPass) return { committed: document.current, inPass: null };
    return { committed: document.base, inPass: document.pass === pass ? document.current : null };
  }

  /** Saves where pass `pass` has verified a wallet up to. */
  async saveCheckpoint(userId: string, pass: number, current: WalletCheckpoint, base: WalletCheckpoint): Promise<void> {
    await this.checkpoints.updateOne({ _id: userId }, { $set: { pass, current, base } }, { upsert: true });
  }

  /** Records what a pass found, unless a later pass has already recorded its own. */
  async noteOutcome(found: Omit<PassOutcome, 'lastOkAt'>): Promise<void> {
    try {
      await this.passes.updateOne(
        { _id: 'outcome', pass: { $lt: found.pass } },
        { $set: { kind: 'outcome', ...found, ...(found.ok ? { lastOkAt: found.checkedAt } : {}) } },
        { upsert: true },
      );
    } catch (error) {
      // The upsert met the document of a later pass.
      if (!isDuplicateKey(error)) throw error;
    }
  }

  /** What the latest pass that ended found; null before any. */
  async outcome(): Promise<PassOutcome | null> {
    const document = (await this.passes.findOne({ _id: 'outcome' })) as OutcomeDocument | null;
    if (!document) return null;
    const { pass, ok, checkedAt, lastOkAt, unbalanced, stalled, drifted } = document;
    return { pass, ok, checkedAt, lastOkAt: lastOkAt ?? null, unbalanced, stalled, drifted };
  }

  async progressOf(pass: number): Promise<FullPassProgress | null> {
    const document = (await this.passes.findOne({ _id: progressId(pass) })) as ProgressDocument | null;
    return document && { after: document.after, totals: document.totals, wallets: document.wallets, entries: document.entries };
  }

  async saveProgress(pass: number, progress: FullPassProgress): Promise<void> {
    await this.passes.updateOne({ _id: progressId(pass) }, { $set: { kind: 'progress', ...progress } }, { upsert: true });
  }

  private async passAt(pass: number): Promise<PassDocument | null> {
    return (await this.passes.findOne({ _id: passId(pass) })) as PassDocument | null;
  }

  private async insertOnce(document: PassesDocument): Promise<boolean> {
    try {
      await this.passes.insertOne(document);
      return true;
    } catch (error) {
      if (isDuplicateKey(error)) return false;
      throw error;
    }
  }
}

const passId = (pass: number) => `pass:${pass}`;
const leaseId = (pass: number, k: number) => `lease:${pass}:${k}`;
const progressId = (pass: number) => `progress:${pass}`;
