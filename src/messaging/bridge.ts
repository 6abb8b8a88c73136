import { setMaxListeners } from 'node:events';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import { backoffDelayMs, sleep } from '../support/backoff';
import type { BrokerConnection } from './broker-connection';
import { deadLetter } from './dead-letter';
import type { Decoded } from './messages';
import type { Disposition, MessageRouter } from './message-router';
import { CONSUMED_QUEUES, openTopologyChannel, type ConsumedQueue } from './topology';

const RETRY_BACKOFF = { initialMs: 200, maxMs: 30_000 };

export interface BridgeOptions {
  prefetch: number;
  /** Parses and validates a body (see createMessageDecoder). */
  decode: (queue: ConsumedQueue, body: Buffer) => Decoded;
  /** Transaction events wait here before they start executions (sign-ups do not). */
  admission?: { waitForRoom(signal: AbortSignal): Promise<void> };
}

/**
 * The RabbitMQ side of the service: consumes the wallet's queues with manual acks and acks a message
 * only once its effect is durable (Temporal accepted the signal, or the database the wallet), or once
 * it sits in the dead-letter queue. Infrastructure failures are retried with backoff, unacked.
 */
export class TransactionEventBridge {
  private channel: ConfirmChannel | undefined;
  private consumerTags: string[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stopping = new AbortController();

  constructor(
    broker: BrokerConnection,
    private readonly router: Pick<MessageRouter, 'route'>,
    private readonly options: BridgeOptions,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {
    // Every message in hand may wait on it (admission, retry backoff): prefetch is per consumer.
    setMaxListeners(CONSUMED_QUEUES.length * options.prefetch + 10, this.stopping.signal);
    broker.onConnected(async (connection) => {
      if (this.stopping.signal.aborted) return;
      const channel = await openTopologyChannel(connection, this.logger, 'consumer', (closed) => {
        if (this.channel === closed) this.channel = undefined;
      });
      await channel.prefetch(this.options.prefetch);
      this.channel = channel;
      this.consumerTags = [];
      for (const queue of CONSUMED_QUEUES) {
        const { consumerTag } = await channel.consume(queue, (message) => message && this.track(channel, queue, message), {
          noAck: false,
        });
        this.consumerTags.push(consumerTag);
      }
    });
  }

  /** Stops taking messages and waits (up to `graceMs`) for those in hand to finish. */
  async stop(graceMs: number): Promise<void> {
    const channel = this.channel;
    if (channel) {
      await Promise.all(this.consumerTags.map((tag) => channel.cancel(tag).catch(() => undefined)));
    }
    const drained = Promise.all([...this.inFlight]);
    const grace = new AbortController();
    const timedOut = await Promise.race([drained.then(() => false), sleep(graceMs, grace.signal).then(() => true)]);
    grace.abort();
    // Whatever is still retrying stays unacked and is redelivered to the next consumer.
    this.stopping.abort();
    if (timedOut) await drained;
    await channel?.close().catch(() => undefined);
  }

  get inFlightCount(): number {
    return this.inFlight.size;
  }

  private track(channel: ConfirmChannel, queue: ConsumedQueue, message: ConsumeMessage): void {
    const work = this.handle(channel, queue, message).catch((error: unknown) =>
      this.logger.error({ err: error, queue }, 'message handling failed; it stays unacked'),
    );
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  private async handle(channel: ConfirmChannel, queue: ConsumedQueue, message: ConsumeMessage): Promise<void> {
    const decoded = this.options.decode(queue, message.content);
    if (decoded.ok && decoded.message.kind !== 'userSignup') await this.options.admission?.waitForRoom(this.stopping.signal);
    if (this.stopping.signal.aborted) return; // unacked: redelivered to the next consumer
    for (let attempt = 1; ; attempt++) {
      try {
        const disposition: Disposition = decoded.ok
          ? await this.router.route(decoded.message)
          : { outcome: 'dead_lettered', reason: decoded.reason };
        if (disposition.outcome === 'dead_lettered') {
          await deadLetter(channel, queue, message, disposition.reason);
          this.metrics.deadLettered.inc({ queue });
          this.logger.warn({ queue, reason: disposition.reason, ...idsOf(decoded) }, 'message dead-lettered');
        }
        channel.ack(message);
        this.metrics.messagesConsumed.inc({ queue, outcome: disposition.outcome });
        this.logger.debug({ queue, outcome: disposition.outcome, ...idsOf(decoded) }, 'message handled');
        return;
      } catch (error) {
        if (this.stopping.signal.aborted || this.channel !== channel) return; // redelivered elsewhere
        this.metrics.bridgeRetries.inc({ queue });
        this.logger.warn({ err: error, queue, attempt, ...idsOf(decoded) }, 'message not handed over yet; retrying');
        await sleep(backoffDelayMs(RETRY_BACKOFF, attempt), this.stopping.signal);
        if (this.stopping.signal.aborted || this.channel !== channel) return;
      }
    }
  }
}

function idsOf(decoded: Decoded): Record<string, string> {
  if (!decoded.ok) return {};
  const message = decoded.message;
  switch (message.kind) {
    case 'userSignup':
      return { userId: message.userId };
    case 'transactionRejected':
      return { transactionId: message.transactionId };
    case 'transactionCompleted':
    case 'transactionFailed':
      return { transactionId: message.event.transactionId };
  }
}
