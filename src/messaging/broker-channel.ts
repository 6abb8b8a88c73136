import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import type { Logger } from '../logger';
import { backoffDelayMs, sleep } from '../support/backoff';

const REOPEN_BACKOFF = { initialMs: 250, maxMs: 10_000 };

export interface BrokerChannelOptions<C extends Channel> {
  /** Names the channel in logs and metrics ("consumer", "finalization echo"...). */
  purpose: string;
  /** Opens the channel on a connection: a confirm channel or a plain one. */
  create: (connection: ChannelModel) => Promise<C>;
  /** The consumers its set-up starts, by queue (or `as` name): readiness reports each one missing while it is. */
  consumes: readonly string[];
  /** Runs on every new channel before it is handed out: topology, prefetch, and consumers through `consume`. */
  setUp: (channel: C, consume: Consume) => Promise<void>;
}

/** Consumes `queue`; `as` names the consumer in readiness when the queue's name is the broker's choice. */
export type Consume = (
  queue: string,
  onMessage: (message: ConsumeMessage) => void,
  options?: Options.Consume & { as?: string },
) => Promise<void>;

/** What a channel reports to its connection: a reopen after the broker closed it, for the metrics. */
export interface ChannelEvents {
  reopened(purpose: string): void;
}

/**
 * A channel that does not stay closed. RabbitMQ closes a channel and keeps its connection on a
 * channel-level error, and closes a consumer's channel whose delivery stays unacked past its
 * `consumer_timeout`; it cancels a consumer whose queue is deleted. Each time, this channel opens
 * again on the same connection, with backoff, and runs its set-up again (consumers included); on a
 * new connection the broker connection opens it afresh. Owners read `current` at each use.
 */
export class BrokerChannel<C extends Channel = ConfirmChannel> {
  private channel: C | undefined;
  private connection: ChannelModel | undefined;
  private retired = false;
  private readonly consumerTags = new Map<string, string>();
  /** When each expected consumer went missing; absent while it consumes. */
  private readonly missingSince = new Map<string, number>();

  constructor(
    private readonly options: BrokerChannelOptions<C>,
    private readonly isLive: (connection: ChannelModel) => boolean,
    private readonly events: ChannelEvents,
    private readonly logger: Logger,
  ) {
    const now = Date.now();
    for (const queue of options.consumes) this.missingSince.set(queue, now);
  }

  get purpose(): string {
    return this.options.purpose;
  }

  /** The open channel, or undefined while there is none. */
  get current(): C | undefined {
    return this.channel;
  }

  /** Expected consumers missing for longer than `graceMs`, by queue. */
  missingConsumers(graceMs: number, now = Date.now()): string[] {
    return [...this.missingSince].filter(([, since]) => now - since > graceMs).map(([queue]) => queue);
  }

  /** Opens the channel on a new connection; a failure fails the connection's set-up, which reconnects. */
  async attach(connection: ChannelModel): Promise<void> {
    if (this.retired) return;
    this.connection = connection;
    await this.open(connection);
  }

  /**
   * Closes `channel` if it is still the current one, so that it opens again with its set-up: the
   * broker cancelled a consumer, or a delivery was held too long to keep its channel.
   */
  recycle(channel: C, reason: string): void {
    if (this.channel !== channel) return;
    this.channel = undefined;
    this.logger.warn({ channel: this.purpose, reason }, 'RabbitMQ channel recycled');
    void channel.close().catch(() => undefined);
  }

  /** Stops consuming on the current channel; the channel stays open for acks of messages in hand and is never reopened. */
  async cancelConsumers(): Promise<void> {
    this.retired = true;
    const channel = this.channel;
    if (!channel) return;
    await Promise.all([...this.consumerTags.values()].map((tag) => channel.cancel(tag).catch(() => undefined)));
    this.consumerTags.clear();
  }

  /** Closes the channel for good. */
  async close(): Promise<void> {
    this.retired = true;
    const channel = this.channel;
    this.channel = undefined;
    await channel?.close().catch(() => undefined);
  }

  private async open(connection: ChannelModel): Promise<void> {
    const channel = await this.options.create(connection);
    channel.on('error', (error: Error) => this.logger.warn({ err: error, channel: this.purpose }, 'RabbitMQ channel error'));
    // Until its set-up is done a close fails the set-up, and whoever opened it tries again.
    let ready = false;
    let closedEarly = false;
    channel.once('close', () => (ready ? this.closed(channel, connection) : (closedEarly = true)));
    const consume: Consume = async (queue, onMessage, { as: name = queue, ...options } = {}) => {
      const { consumerTag } = await channel.consume(
        queue,
        (message) => {
          if (message) onMessage(message);
          else this.consumerCancelled(channel, name);
        },
        { ...options, noAck: options.noAck ?? false },
      );
      this.consumerTags.set(name, consumerTag);
      this.missingSince.delete(name);
    };
    // Current from the start: a consumer's first deliveries can arrive while the set-up goes on.
    this.channel = channel;
    try {
      await this.options.setUp(channel, consume);
      if (closedEarly) throw new Error(`the ${this.purpose} channel closed during its set-up`);
    } catch (error) {
      if (this.channel === channel) this.channel = undefined;
      this.consumerTags.clear();
      for (const queue of this.options.consumes) this.markMissing(queue);
      await channel.close().catch(() => undefined);
      throw error;
    }
    ready = true;
  }

  private consumerCancelled(channel: C, queue: string): void {
    this.markMissing(queue);
    this.recycle(channel, `the broker cancelled the consumer of ${queue}`);
  }

  private markMissing(queue: string): void {
    if (this.options.consumes.includes(queue) && !this.missingSince.has(queue)) this.missingSince.set(queue, Date.now());
  }

  private closed(channel: C, connection: ChannelModel): void {
    if (this.channel === channel) this.channel = undefined;
    this.consumerTags.clear();
    for (const queue of this.options.consumes) this.markMissing(queue);
    if (!this.retired) void this.reopen(connection);
  }

  /** Opens the channel again on the connection it was on, for as long as that connection lives. */
  private async reopen(connection: ChannelModel): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      // A channel also closes when its connection does: the pause lets the connection say so first.
      await sleep(backoffDelayMs(REOPEN_BACKOFF, attempt));
      if (this.retired || this.connection !== connection || !this.isLive(connection) || this.channel) return;
      try {
        await this.open(connection);
        this.events.reopened(this.purpose);
        this.logger.warn({ channel: this.purpose, attempt }, 'RabbitMQ channel closed by the broker; reopened');
        return;
      } catch (error) {
        this.logger.warn({ err: error, channel: this.purpose, attempt }, 'RabbitMQ channel could not be reopened; retrying');
      }
    }
  }
}
