import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { TransactionFinalized } from '../../../src/domain';
import { DEAD_LETTER, EXCHANGES, QUEUES, declareTopology } from '../../../src/messaging/topology';
import type { DeadLetter } from '../../support/platform-broker';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The rest of the platform through broker crashes: publishes like the auth and transactions services
 * (persistent JSON, publisher confirms, republishing what the broker did not confirm) and consumes
 * `transaction.finalized.q` as the transactions service does, reconnecting whenever the broker returns.
 */
export class ResilientPlatform {
  readonly finalized: TransactionFinalized[] = [];
  /** Publishes that had to be sent again because the broker went away before confirming. */
  republished = 0;
  private connection: ChannelModel | undefined;
  private channel: ConfirmChannel | undefined;
  private connecting: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly url: string) {}

  async start(): Promise<void> {
    await this.ensureConnected();
  }

  async close(): Promise<void> {
    this.stopped = true;
    await this.connection?.close().catch(() => undefined);
  }

  /** Publishes until the broker confirms. */
  async publish(exchange: string, routingKey: string, body: unknown): Promise<void> {
    const bytes = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) this.republished++;
      try {
        await this.ensureConnected();
        const channel = this.channel!;
        await new Promise<void>((resolve, reject) => {
          channel.publish(exchange, routingKey, bytes, { persistent: true }, (error) =>
            error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(),
          );
        });
        return;
      } catch {
        await sleep(250);
      }
    }
  }

  /** Takes every message now in the dead-letter queue. */
  async drainDeadLetters(): Promise<DeadLetter[]> {
    await this.ensureConnected();
    const letters: DeadLetter[] = [];
    for (;;) {
      const message = await this.channel!.get(DEAD_LETTER.queue, { noAck: true });
      if (!message) return letters;
      const headers = message.properties.headers ?? {};
      letters.push({
        body: message.content.toString('utf8'),
        reason: String(headers[DEAD_LETTER.headers.reason]),
        queue: String(headers[DEAD_LETTER.headers.queue]),
      });
    }
  }

  async messagesIn(queue: string): Promise<number> {
    await this.ensureConnected();
    return (await this.channel!.checkQueue(queue)).messageCount;
  }

  finalizationsOf(transactionId: string): TransactionFinalized[] {
    return this.finalized.filter((f) => f.transactionId === transactionId);
  }

  private ensureConnected(): Promise<void> {
    if (this.channel) return Promise.resolve();
    this.connecting ??= this.connectOnce().finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  private async connectOnce(): Promise<void> {
    for (;;) {
      if (this.stopped) throw new Error('closed');
      try {
        const connection = await connect(this.url, { timeout: 2_000 });
        connection.on('error', () => undefined);
        const channel = await connection.createConfirmChannel();
        channel.on('error', () => undefined);
        await declareTopology(channel);
        await channel.prefetch(500);
        await channel.consume(QUEUES.transactionFinalized, (message) => {
          if (!message) return;
          const finalized = JSON.parse(message.content.toString('utf8')) as TransactionFinalized;
          // A message redelivered because our own ack died with the broker is not the wallet's duplicate.
          const last = this.finalizationsOf(finalized.transactionId).at(-1);
          const ownRedelivery = message.fields.redelivered && JSON.stringify(last) === JSON.stringify(finalized);
          if (!ownRedelivery) this.finalized.push(finalized);
          channel.ack(message);
        });
        connection.once('close', () => {
          if (this.connection === connection) {
            this.connection = undefined;
            this.channel = undefined;
            if (!this.stopped) void this.ensureConnected().catch(() => undefined);
          }
        });
        this.connection = connection;
        this.channel = channel;
        return;
      } catch {
        await sleep(500);
      }
    }
  }
}

export { EXCHANGES };
