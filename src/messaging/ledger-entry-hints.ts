import type { Channel } from 'amqplib';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { BrokerChannel, Consume } from './broker-channel';
import type { BrokerConnection } from './broker-connection';
import { canonicalObjectId } from '../domain';

/**
 * The wallet's own exchange for hints that a wallet has a new ledger entry: fanout, not durable, so
 * every replica's queue gets each hint and none outlives the broker. Apart from the platform's
 * exchanges and queues, which it leaves untouched.
 */
export const LEDGER_ENTRY_HINTS = { exchange: 'wallet.ledger-entries', consumer: 'ledger entry hints' } as const;

/**
 * Hints given within this long of the first one waiting go out in one message: a transfer's two
 * legs, and the entries of every transfer written meanwhile, cost the broker one message, and a
 * follower hears of an entry this much later at most.
 */
const HINT_GATHERING_MS = 20;
/** The wallets one message carries at most; past it, the hints waiting go out at once. */
export const HINTS_PER_MESSAGE = 256;

export interface LedgerEntryHint {
  userId: string;
  version: number;
}

/** What a replica does with the hints it hears. */
export interface HintListener {
  /** A wallet has an entry at `hint.version` or beyond. */
  heard(hint: LedgerEntryHint): void;
  /**
   * The replica hears hints from now on: an entry whose hint was sent before this may have been
   * missed, so every follower reads its wallet again.
   */
  hearing(): void;
}

/**
 * Hints of new ledger entries between replicas, so the one holding a user's live-update connection
 * hears of an entry another one wrote. Off the money path: a hint is published without a confirm,
 * never awaited, dropped while the channel is down or its buffer full, and its loss only delays an
 * event until the follower's next catch-up read. Each replica reads them from an exclusive,
 * auto-deleted queue bounded to `queueMaxLength`, dropping the oldest past it, and binds that queue
 * to the exchange only while it has live-update connections (`listen`): a replica nobody follows a
 * wallet on receives no hints, and each transfer's hints cost the replicas nothing but their sending.
 */
export class LedgerEntryHints {
  private readonly channel: BrokerChannel<Channel>;
  private writable = false;
  /** Whether the replica has live-update connections, so wants the hints. */
  private listening = false;
  /** The queue of the current channel, and whether it is bound to the exchange. */
  private queue: { channel: Channel; name: string; bound: boolean } | undefined;
  /** The binding or unbinding under way: one at a time, each reading `listening` afresh. */
  private settling: Promise<void> | undefined;
  /** The hints waiting for the next message: the highest version given of each wallet. */
  private readonly waiting = new Map<string, number>();
  private sending: NodeJS.Timeout | undefined;

  constructor(
    broker: BrokerConnection,
    private readonly queueMaxLength: number,
    private readonly listener: HintListener,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {
    this.channel = broker.channel({
      purpose: 'ledger entry hints',
      create: (connection) => connection.createChannel(),
      consumes: [LEDGER_ENTRY_HINTS.consumer],
      setUp: async (channel, consume) => {
        channel.on('drain', () => (this.writable = true));
        await this.subscribe(channel, consume);
        this.writable = true;
      },
    });
  }

  /** Fire and forget: never throws, never waits. The hint goes out with the others given within `HINT_GATHERING_MS`. */
  publish(hint: LedgerEntryHint): void {
    const known = this.waiting.get(hint.userId);
    if (known === undefined || known < hint.version) this.waiting.set(hint.userId, hint.version);
    if (this.waiting.size >= HINTS_PER_MESSAGE) this.send();
    else this.sending ??= setTimeout(() => this.send(), HINT_GATHERING_MS).unref();
  }

  private send(): void {
    clearTimeout(this.sending);
    this.sending = undefined;
    const hints = [...this.waiting].map(([userId, version]) => ({ userId, version }));
    this.waiting.clear();
    const channel = this.channel.current;
    if (!channel || !this.writable) {
      this.metrics.ledgerEntryHints.inc({ outcome: 'dropped' }, hints.length);
      return;
    }
    try {
      this.writable = channel.publish(LEDGER_ENTRY_HINTS.exchange, '', Buffer.from(JSON.stringify(hints)), { persistent: false });
      this.metrics.ledgerEntryHints.inc({ outcome: 'published' }, hints.length);
      this.metrics.ledgerEntryHintMessages.inc();
    } catch (error) {
      this.metrics.ledgerEntryHints.inc({ outcome: 'dropped' }, hints.length);
      this.logger.debug({ err: error }, 'ledger entry hints dropped');
    }
  }

  /** Hears hints while `on` (this replica has live-update connections), and none otherwise. */
  listen(on: boolean): void {
    this.listening = on;
    void this.settleBinding();
  }

  private settleBinding(): Promise<void> {
    this.settling ??= this.bindAsListening().finally(() => (this.settling = undefined));
    return this.settling;
  }

  private async bindAsListening(): Promise<void> {
    for (let queue = this.queue; queue && queue.bound !== this.listening && this.channel.current === queue.channel; queue = this.queue) {
      const bind = this.listening;
      try {
        if (bind) await queue.channel.bindQueue(queue.name, LEDGER_ENTRY_HINTS.exchange, '');
        else await queue.channel.unbindQueue(queue.name, LEDGER_ENTRY_HINTS.exchange, '');
        queue.bound = bind;
        if (bind) this.listener.hearing();
      } catch (error) {
        // A failed (un)binding closes the channel: the loop goes on with the next one's queue, if any yet.
        this.logger.debug({ err: error, bind }, 'ledger entry hints: binding failed');
        if (this.queue === queue) return;
      }
    }
  }

  private async subscribe(channel: Channel, consume: Consume): Promise<void> {
    await channel.assertExchange(LEDGER_ENTRY_HINTS.exchange, 'fanout', { durable: false });
    const { queue } = await channel.assertQueue('', {
      exclusive: true,
      autoDelete: true,
      durable: false,
      maxLength: this.queueMaxLength,
      arguments: { 'x-overflow': 'drop-head' },
    });
    await consume(
      queue,
      (message) => {
        for (const hint of decodeHints(message.content)) {
          this.metrics.ledgerEntryHints.inc({ outcome: 'received' });
          this.listener.heard(hint);
        }
      },
      { noAck: true, as: LEDGER_ENTRY_HINTS.consumer },
    );
    this.queue = { channel, name: queue, bound: false };
    await this.settleBinding();
  }
}

/** The hints a message carries: a list of them, or one alone (as a replica older than the lists sends). */
export function decodeHints(content: Buffer): LedgerEntryHint[] {
  let carried: unknown;
  try {
    carried = JSON.parse(content.toString('utf8'));
  } catch {
    return [];
  }
  const hints = Array.isArray(carried) ? carried.slice(0, HINTS_PER_MESSAGE) : [carried];
  return hints.flatMap((hint) => {
    const decoded = decodeHint(hint);
    return decoded ? [decoded] : [];
  });
}

function decodeHint(hint: unknown): LedgerEntryHint | undefined {
  if (typeof hint !== 'object' || hint === null) return undefined;
  const { userId, version } = hint as Partial<LedgerEntryHint>;
  // The service publishes its hints with ids in their canonical form: anything else is not one.
  const id = canonicalObjectId(userId);
  return id !== undefined && id === userId && Number.isSafeInteger(version) && version! > 0 ? { userId: id, version: version! } : undefined;
}
