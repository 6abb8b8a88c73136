import type { WalletConfig } from '../config';
import type { FeedPosition } from '../ledger';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import { EntryFollower, type EntrySink, type FeedReads } from './entry-follower';

/** No room for one more live-update connection: the client may retry later. */
export class LiveUpdatesFullError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'LiveUpdatesFullError';
  }
}

/**
 * This process's live-update connections, by wallet. A hint that a wallet has a new entry wakes that
 * wallet's followers here; each then reads the ledger itself. Bounded per user and in total.
 * `onFollowing` hears when the first connection opens and the last one closes, so that the process
 * takes hints only while someone follows a wallet here.
 */
export class LiveEntryHub {
  private readonly byUser = new Map<string, Set<EntryFollower>>();
  private count = 0;
  private closed = false;

  constructor(
    private readonly config: WalletConfig['liveUpdates'],
    private readonly reads: FeedReads,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly onFollowing: (following: boolean) => void,
  ) {}

  /** True while the process has live-update connections. */
  get following(): boolean {
    return this.count > 0;
  }

  /** True once the process is shutting down: new streams are ended at once, so that clients reconnect elsewhere. */
  get closing(): boolean {
    return this.closed;
  }

  /** Throws LiveUpdatesFullError when a new connection of this user would be refused. */
  checkRoom(userId: string): void {
    if (this.count >= this.config.maxConnections) throw new LiveUpdatesFullError('Too many live-update connections; retry shortly');
    if ((this.byUser.get(userId)?.size ?? 0) >= this.config.maxConnectionsPerUser) {
      throw new LiveUpdatesFullError(`At most ${this.config.maxConnectionsPerUser} live-update connections per user`);
    }
  }

  /** Registers a follower of the user's wallet after `position`; call its start() once the stream is open. */
  follow(userId: string, position: FeedPosition, sink: EntrySink): EntryFollower {
    this.checkRoom(userId);
    const follower = new EntryFollower(userId, position, this.reads, sink, this.config, this.logger, (stopped) => this.forget(stopped));
    const followers = this.byUser.get(userId) ?? new Set();
    followers.add(follower);
    this.byUser.set(userId, followers);
    this.count++;
    this.metrics.liveUpdateConnections.set(this.count);
    if (this.count === 1) this.onFollowing(true);
    return follower;
  }

  /** A hint: the user's wallet has an entry at `version` or beyond. */
  wake(userId: string): void {
    this.byUser.get(userId)?.forEach((follower) => follower.wake());
  }

  /** Every follower reads its wallet again: hints may have been missed. */
  wakeAll(): void {
    this.byUser.forEach((followers) => followers.forEach((follower) => follower.wake()));
  }

  /** Ends every stream and refuses new ones (SIGTERM): clients reconnect to another replica and resume. */
  close(): void {
    this.closed = true;
    for (const followers of [...this.byUser.values()]) followers.forEach((follower) => follower.stop());
  }

  private forget(follower: EntryFollower): void {
    const followers = this.byUser.get(follower.userId);
    if (!followers?.delete(follower)) return;
    if (followers.size === 0) this.byUser.delete(follower.userId);
    this.count--;
    this.metrics.liveUpdateConnections.set(this.count);
    if (this.count === 0) this.onFollowing(false);
  }
}
