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

export interface LedgerEntryHint {
  userId: string;
  version: number;
}

/**
 * Hints of new ledger entries between replicas, so the one holding a user's live-update connection
 * hears of an entry another one wrote. Off the money path: a hint is published without a confirm,
 * never awaited, dropped while the channel is down or its buffer full, and its loss only delays an
 * event until the follower's next catch-up read. Each replica reads them from an exclusive,
 * auto-deleted queue bounded to `queueMaxLength`, dropping the oldest past it.
 */
export class LedgerEntryHints {
  private readonly channel: BrokerChannel<Channel>;
  private writable = false;

  constructor(
    broker: BrokerConnection,
    private readonly queueMaxLength: number,
    private readonly onHint: (hint: LedgerEntryHint) => void,
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

  /** Fire and forget: never throws, never waits. */
  publish(hint: LedgerEntryHint): void {
    const channel = this.channel.current;
    if (!channel || !this.writable) {
      this.metrics.ledgerEntryHints.inc({ outcome: 'dropped' });
      return;
    }
    try {
      this.writable = channel.publish(LEDGER_ENTRY_HINTS.exchange, '', Buffer.from(JSON.stringify(hint)), { persistent: false });
      this.metrics.ledgerEntryHints.inc({ outcome: 'published' });
    } catch (error) {
      this.metrics.ledgerEntryHints.inc({ outcome: 'dropped' });
      this.logger.debug({ err: error }, 'ledger entry hint dropped');
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
    await channel.bindQueue(queue, LEDGER_ENTRY_HINTS.exchange, '');
    await consume(
      queue,
      (message) => {
        const hint = decodeHint(message.content);
        if (!hint) return;
        this.metrics.ledgerEntryHints.inc({ outcome: 'received' });
        this.onHint(hint);
      },
      { noAck: true, as: LEDGER_ENTRY_HINTS.consumer },
    );
  }
}

function decodeHint(content: Buffer): LedgerEntryHint | undefined {
  try {
    const { userId, version } = JSON.parse(content.toString('utf8')) as Partial<LedgerEntryHint>;
    // The service publishes its hints with ids in their canonical form: anything else is not one.
    const id = canonicalObjectId(userId);
    return id !== undefined && id === userId && Number.isSafeInteger(version) && version! > 0
      ? { userId: id, version: version! }
      : undefined;
  } catch {
    return undefined;
  }
}
