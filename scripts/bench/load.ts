import { once } from 'node:events';
import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { TransactionFinalized } from '../../src/domain';
import { EXCHANGES, QUEUES, ROUTING_KEYS, declareTopology } from '../../src/messaging/topology';

/**
 * The platform side of the benchmark: publishes events in the exact wire format of CONTRACT.md and
 * times each transaction from its publish to its `wallet.transactionFinalized`, read from a queue of
 * its own bound to `transaction.events`.
 */
export class LoadDriver {
  private readonly publishedAt = new Map<string, number>();
  private readonly finalizedAt = new Map<string, number>();
  private readonly finalizations = new Map<string, TransactionFinalized[]>();
  private waiters: Array<() => void> = [];

  private constructor(
    private readonly connection: ChannelModel,
    private readonly channel: ConfirmChannel,
  ) {}

  static async connect(url: string): Promise<LoadDriver> {
    const connection = await connect(url);
    const channel = await connection.createConfirmChannel();
    await declareTopology(channel);
    for (const queue of [QUEUES.userSignup, QUEUES.transactionCompleted, QUEUES.transactionFailed, QUEUES.transactionFinalized]) {
      await channel.purgeQueue(queue);
    }
    const driver = new LoadDriver(connection, channel);
    const { queue } = await channel.assertQueue('', { exclusive: true, autoDelete: true });
    await channel.bindQueue(queue, EXCHANGES.transactions, ROUTING_KEYS.transactionFinalized);
    await channel.consume(
      queue,
      (message) => message && driver.onFinalized(JSON.parse(message.content.toString()) as TransactionFinalized),
      { noAck: true },
    );
    return driver;
  }

  async close(): Promise<void> {
    await this.connection.close();
  }

  signup(userId: string): Promise<void> {
    return this.publish(EXCHANGES.auth, ROUTING_KEYS.userSignup, { id: userId, role: 'user' });
  }

  completed(transactionId: string, body: Record<string, unknown>): Promise<void> {
    this.publishedAt.set(transactionId, performance.now());
    return this.publish(EXCHANGES.transactions, ROUTING_KEYS.transactionCompleted, { transactionId, ...body });
  }

  /** Waits until the broker confirmed everything published so far. */
  async flush(): Promise<void> {
    await this.channel.waitForConfirms();
  }

  /** Resolves when every given transaction is finalized. */
  async allFinalized(transactionIds: string[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!transactionIds.every((id) => this.finalizedAt.has(id))) {
      if (Date.now() > deadline) {
        const missing = transactionIds.filter((id) => !this.finalizedAt.has(id)).length;
        throw new Error(`${missing} of ${transactionIds.length} transactions not finalized within ${timeoutMs / 1000}s`);
      }
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 500);
      });
    }
  }

  /** Latencies (ms) of the given transactions, and the first publish and last finalization times. */
  timings(transactionIds: string[]): { latencies: number[]; firstPublish: number; lastFinalized: number } {
    const latencies = transactionIds.map((id) => this.finalizedAt.get(id)! - this.publishedAt.get(id)!);
    return {
      latencies,
      firstPublish: Math.min(...transactionIds.map((id) => this.publishedAt.get(id)!)),
      lastFinalized: Math.max(...transactionIds.map((id) => this.finalizedAt.get(id)!)),
    };
  }

  /** Finalizations per second in each tenth of the run, by finalization order: shows decay, if any. */
  throughputByTenth(transactionIds: string[]): number[] {
    const times = transactionIds.map((id) => this.finalizedAt.get(id)!).sort((a, b) => a - b);
    const tenth = Math.floor(times.length / 10);
    if (tenth < 2) return [];
    return Array.from({ length: 10 }, (_, k) => {
      const seconds = (times[(k + 1) * tenth - 1] - times[k * tenth]) / 1000;
      return Math.round(((tenth - 1) / seconds) * 10) / 10;
    });
  }

  finalizationsOf(transactionId: string): TransactionFinalized[] {
    return this.finalizations.get(transactionId) ?? [];
  }

  /** Publishes as fast as the broker takes messages: waits for 'drain' when the socket is full. */
  private async publish(exchange: string, routingKey: string, body: unknown): Promise<void> {
    if (!this.channel.publish(exchange, routingKey, Buffer.from(JSON.stringify(body)), { persistent: true })) {
      await once(this.channel, 'drain');
    }
  }

  private onFinalized(finalized: TransactionFinalized): void {
    if (!this.finalizedAt.has(finalized.transactionId)) this.finalizedAt.set(finalized.transactionId, performance.now());
    this.finalizations.set(finalized.transactionId, [...this.finalizationsOf(finalized.transactionId), finalized]);
    if (this.waiters.length > 100) this.waiters.splice(0).forEach((resolve) => resolve());
  }
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
