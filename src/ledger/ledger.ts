import type { AppliedLeg, LegChange } from '../../workflows/contract';
import type { Metrics } from '../metrics';
import { KeyedMutex } from '../support/keyed-mutex';
import type { WalletHead } from './ledger-chain';
import type { LedgerStore } from './ledger-store';
import { LegWriter, type EntryWrittenListener } from './leg-writer';
import { WalletProjection } from './projection';
import { reversalsOf } from './reversals';
import { WalletHeads } from './wallet-heads';
import { openWallet } from './wallet-opening';

/**
 * The ledger owns every balance change: each is an entry at the wallet's next version (see
 * LegWriter), made safe on FerretDB as on MongoDB without multi-document transactions by two unique
 * keys. The wallet document is a projection of the wallet's latest entry (see WalletProjection).
 */
export class Ledger {
  // Writers of one wallet in this process take turns; the unique keys still arbitrate between processes.
  private readonly walletWriters = new KeyedMutex();
  private readonly projection: WalletProjection;
  private readonly writer: LegWriter;

  constructor(
    private readonly store: LedgerStore,
    metrics: Metrics,
    private readonly initialBalance: number,
    onEntryWritten: EntryWrittenListener = () => undefined,
  ) {
    const heads = new WalletHeads();
    this.projection = new WalletProjection(store, heads);
    this.writer = new LegWriter(store, this.projection, heads, metrics, onEntryWritten);
  }

  openWallet(userId: string): Promise<{ created: boolean }> {
    return openWallet(this.store, this.projection, userId, this.initialBalance);
  }

  /**
   * Applies one leg exactly once: a retry of the same (transactionId, userId, leg) returns the entry
   * the first attempt wrote, whatever happened in between. An attempt whose `signal` aborted (its
   * activity timed out and was retried) writes nothing more: it would only load the database for
   * an answer nobody waits for, and the retry queues behind it.
   */
  applyLeg(change: LegChange, signal?: AbortSignal): Promise<AppliedLeg> {
    return this.walletWriters.run(change.userId, () => this.writer.write(change, signal), signal);
  }

  reversalsOf(transactionId: string): Promise<LegChange[]> {
    return reversalsOf(this.store, transactionId);
  }

  /** Brings a wallet document that lags its ledger up to the ledger's head, and returns that head. */
  rollProjectionForward(userId: string): Promise<WalletHead> {
    return this.projection.rollForward(userId);
  }
}
