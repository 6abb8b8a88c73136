import { connect, type Channel, type ChannelModel, type ConsumeMessage, type GetMessage } from 'amqplib';
import type { TransactionFinalized } from '../../src/domain';
import { DEAD_LETTER, EXCHANGES, FINALIZATION_ECHO, QUEUES, ROUTING_KEYS, declareTopology } from '../../src/messaging/topology';
import { eventually } from './eventually';
import { TEST_RABBITMQ_URL } from './tools';

export interface DeadLetter {
  body: string;
  reason: string;
  queue: string;
}

/**
 * The rest of the platform, as the wallet sees it over RabbitMQ: publishes events the way the auth and
 * transactions services do (JSON body, persistent, no other properties) and listens to what the
 * wallet announces on its own queue bound to `transaction.events`.
 */
export class PlatformBroker {
  readonly finalized: TransactionFinalized[] = [];

  private constructor(
    private readonly connection: ChannelModel,
    private readonly channel: Channel,
  ) {}

  static async connect(): Promise<PlatformBroker> {
    const connection = await connect(TEST_RABBITMQ_URL);
    const channel = await connection.createChannel();
    await declareTopology(channel);
    const broker = new PlatformBroker(connection, channel);
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    await channel.bindQueue(queue, EXCHANGES.transactions, ROUTING_KEYS.transactionFinalized);
    await channel.consume(
      queue,
      (message: ConsumeMessage | null) => {
        if (message) broker.finalized.push(JSON.parse(message.content.toString('utf8')) as TransactionFinalized);
      },
      { noAck: true },
    );
    return broker;
  }

  /** Empties the platform queues the wallet consumes or feeds, and the wallet's own queues. */
  async purgeAll(): Promise<void> {
    for (const queue of [...Object.values(QUEUES), DEAD_LETTER.queue, FINALIZATION_ECHO.queue]) await this.channel.purgeQueue(queue);
    this.finalized.length = 0;
  }

  signup(userId: string): void {
    this.publishRaw(EXCHANGES.auth, ROUTING_KEYS.userSignup, {
      id: userId,
      firstName: 'Ada',
      lastName: 'Lovelace',
      email: `${userId}@example.com`,
      emailVerifiedAt: null,
      role: 'user',
      createdAt: '2026-01-02T03:04:05.000Z',
      updatedAt: '2026-01-02T03:04:05.000Z',
    });
  }

  topUp(transactionId: string, userId: string, amount: number): void {
    this.completed({ transactionId, type: 'TopUp', userId, amount });
  }

  transfer(transactionId: string, fromUserId: string, toUserId: string, amount: number): void {
    this.completed({ transactionId, type: 'Transfer', fromUserId, toUserId, amount });
  }

  completed(body: unknown): void {
    this.publishRaw(EXCHANGES.transactions, ROUTING_KEYS.transactionCompleted, body);
  }

  failed(transactionId: string, type: 'TopUp' | 'Transfer', reason: string): void {
    this.publishRaw(EXCHANGES.transactions, ROUTING_KEYS.transactionFailed, { transactionId, type, reason });
  }

  /** Publishes a body as is: an object is JSON-encoded, a string or Buffer goes out byte for byte. */
  publishRaw(exchange: string, routingKey: string, body: unknown): void {
    const bytes = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    this.channel.publish(exchange, routingKey, bytes, { persistent: true });
  }

  finalizationsOf(transactionId: string): TransactionFinalized[] {
    return this.finalized.filter((f) => f.transactionId === transactionId);
  }

  /** Waits for the first finalization of a transaction. */
  async finalizationOf(transactionId: string, timeoutMs = 30_000): Promise<TransactionFinalized> {
    return eventually(`finalization of ${transactionId}`, () => this.finalizationsOf(transactionId)[0], timeoutMs);
  }

  /** Waits until a transaction has `count` finalizations and returns them. */
  async finalizationsCount(transactionId: string, count: number, timeoutMs = 30_000): Promise<TransactionFinalized[]> {
    return eventually(
      `${count} finalizations of ${transactionId}`,
      () => {
        const found = this.finalizationsOf(transactionId);
        return found.length >= count ? found : undefined;
      },
      timeoutMs,
    );
  }

  /** Takes every message currently in the dead-letter queue (acking them). */
  async drainDeadLetters(): Promise<DeadLetter[]> {
    const letters: DeadLetter[] = [];
    for (;;) {
      const message: GetMessage | false = await this.channel.get(DEAD_LETTER.queue, { noAck: true });
      if (!message) return letters;
      const headers = message.properties.headers ?? {};
      letters.push({
        body: message.content.toString('utf8'),
        reason: String(headers[DEAD_LETTER.headers.reason]),
        queue: String(headers[DEAD_LETTER.headers.queue]),
      });
    }
  }

  /** Messages ready (not yet delivered) and consumers of a queue. */
  async queueDepth(queue: string): Promise<{ messageCount: number; consumerCount: number }> {
    return this.channel.checkQueue(queue);
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}
