import { type FeedPosition, type WalletReader, LedgerInvariantError, type HistoryEntry } from '../ledger';
import type { Logger } from '../logger';

export type FeedReads = Pick<WalletReader, 'entriesAfter'>;

/** Where a follower's events go (an SSE response). Each call resolves once the client's connection took it. */
export interface EntrySink {
  entry(entry: HistoryEntry): Promise<void>;
  heartbeat(): Promise<void>;
  /** Ends the stream; the client reconnects and resumes after the last entry it received. */
  end(): void;
}

export interface FollowerTiming {
  batchSize: number;
  catchUpSeconds: number;
  heartbeatSeconds: number;
}

/**
 * One client following one wallet's entries. It reads the ledger after the last entry it sent,
 * whenever a hint says the wallet changed and on a slow timer besides, so entries reach the client
 * once each and in order however hints are lost, duplicated or reordered. One read runs at a time; a
 * wake-up during it makes it read again when done.
 */
export class EntryFollower {
  private reading = false;
  private readAgain = false;
  private stopped = false;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    readonly userId: string,
    private position: FeedPosition,
    private readonly reads: FeedReads,
    private readonly sink: EntrySink,
    private readonly timing: FollowerTiming,
    private readonly logger: Logger,
    private readonly onStop: (follower: EntryFollower) => void,
  ) {}

  start(): void {
    this.timers.push(
      setInterval(() => this.wake(), this.timing.catchUpSeconds * 1000),
      setInterval(() => void this.sink.heartbeat().catch(() => this.stop()), this.timing.heartbeatSeconds * 1000),
    );
    this.wake();
  }

  /** The wallet may have new entries: read them (now, or after the read under way). */
  wake(): void {
    if (this.stopped) return;
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = true;
    void this.readUntilCurrent().finally(() => (this.reading = false));
  }

  /** Ends the stream (idempotent). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.timers.forEach((timer) => clearInterval(timer));
    this.sink.end();
    this.onStop(this);
  }

  private async readUntilCurrent(): Promise<void> {
    do {
      this.readAgain = false;
      let more = true;
      while (more && !this.stopped) more = await this.sendNextBatch();
    } while (this.readAgain && !this.stopped);
  }

  /** Sends the next batch of entries; true when the batch was full (more may follow at once). */
  private async sendNextBatch(): Promise<boolean> {
    let batch: Awaited<ReturnType<FeedReads['entriesAfter']>>;
    try {
      batch = await this.reads.entriesAfter(this.userId, this.position, this.timing.batchSize);
    } catch (error) {
      // A broken ledger ends the stream; a database hiccup waits for the next wake-up.
      if (error instanceof LedgerInvariantError) {
        this.logger.error({ err: error, userId: this.userId }, 'live updates stopped: ledger inconsistency');
        this.stop();
      } else this.logger.warn({ err: error, userId: this.userId }, 'live updates: reading the ledger failed; retrying later');
      return false;
    }
    for (const entry of batch.entries) {
      if (this.stopped) return false;
      try {
        await this.sink.entry(entry);
      } catch {
        // The client went away or stopped reading: it resumes by Last-Event-ID when it comes back.
        this.stop();
        return false;
      }
    }
    this.position = batch.position;
    return batch.entries.length === this.timing.batchSize;
  }
}
