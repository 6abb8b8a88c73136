import { setMaxListeners } from 'node:events';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { Logger } from '../logger';
import { inSpan, SpanKind } from '../tracing/spans';
import type { Metrics } from '../metrics';
import { backoffDelayMs, sleep } from '../support/backoff';
import type { BrokerChannel } from './broker-channel';
import type { BrokerConnection } from './broker-connection';
import { deadLetter } from './dead-letter';
import type { Decoded } from './messages';
import type { Disposition, MessageRouter } from './message-router';
import { isPermanentFailure } from './permanent-failure';
import { CONSUMED_QUEUES, topologyChannel, type ConsumedQueue } from './topology';

const RETRY_BACKOFF = { initialMs: 200, maxMs: 30_000 };

export interface BridgeOptions {
  prefetch: number;
  /** Parses and validates a body (see createMessageDecoder). */
  decode: (queue: ConsumedQueue, body: Buffer) => Decoded;
  /** Transaction events wait here before they start executions (sign-ups do not). */
  admission?: { waitForRoom(signal: AbortSignal): Promise<void> };
  /**
   * How long a delivery may stay unacked: past it, it goes back to its queue. Safely below the
   * broker's `consumer_timeout`, past which RabbitMQ closes the whole channel.
   */
  maxHoldMs: number;
  /** Tries of a message that fails for a permanent reason (see isPermanentFailure) before it is given up. */
  maxPermanentFailures: number;
}

/**
 * The RabbitMQ side of the service: consumes the wallet's queues with manual acks and acks a message
 * only once its effect is durable (Temporal accepted the signal, or the database the wallet), or once
 * it sits in the dead-letter queue. Infrastructure failures are retried with backoff, unacked, for
 * as long as the hold bound allows, then the message is requeued; a message that keeps failing for
 * a permanent reason is given up: dead-lettered, and a transaction it completes refused.
 */
export class TransactionEventBridge {
  private readonly consumer: BrokerChannel;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly stopping = new AbortController();

  constructor(
    broker: BrokerConnection,
    private readonly router: Pick<MessageRouter, 'route' | 'giveUp'>,
    private readonly options: BridgeOptions,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {
    // Every message in hand may wait on it (admission, retry backoff): prefetch is per consumer.
    setMaxListeners(CONSUMED_QUEUES.length * options.prefetch + 10, this.stopping.signal);
    this.consumer = broker.channel(
      topologyChannel(
        'consumer',
        async (channel, consume) => {
          await channel.prefetch(this.options.prefetch);
          for (const queue of CONSUMED_QUEUES) await consume(queue, (message) => this.track(channel, queue, message));
        },
        CONSUMED_QUEUES,
      ),
    );
  }

  /** Stops taking messages and waits (up to `graceMs`) for those in hand to finish. */
  async stop(graceMs: number): Promise<void> {
    await this.consumer.cancelConsumers();
    const drained = Promise.all([...this.inFlight]);
    const grace = new AbortController();
    const timedOut = await Promise.race([drained.then(() => false), sleep(graceMs, grace.signal).then(() => true)]);
    grace.abort();
    // Whatever is still retrying stays unacked and is redelivered to the next consumer.
    this.stopping.abort();
    if (timedOut) await drained;
    await this.consumer.close();
  }

  private track(channel: ConfirmChannel, queue: ConsumedQueue, message: ConsumeMessage): void {
    const handling = inSpan(
      `${queue} process`,
      SpanKind.CONSUMER,
      { 'messaging.system': 'rabbitmq', 'messaging.destination.name': queue },
      () => this.handle(channel, queue, message),
    );
    const work = handling.catch((error: unknown) => this.logger.error({ err: error, queue }, 'message handling failed; it stays unacked'));
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  private async handle(channel: ConfirmChannel, queue: ConsumedQueue, message: ConsumeMessage): Promise<void> {
    const decoded = this.options.decode(queue, message.content);
    // Aborted when the hold bound is reached or the bridge stops, whichever comes first.
    const hold = new AbortController();
    const holdTimer = setTimeout(() => hold.abort(), this.options.maxHoldMs);
    const onStop = () => hold.abort();
    this.stopping.signal.addEventListener('abort', onStop, { once: true });
    const held = hold.signal;
    try {
      const disposition = await Promise.race([this.handOver(channel, queue, decoded, message, held), untilAborted(held)]);
      // On a closed channel the broker has requeued the message already.
      if (this.consumer.current !== channel) return;
      if (disposition) {
        channel.ack(message);
        this.metrics.messagesConsumed.inc({ queue, outcome: disposition.outcome });
        this.logger.debug({ queue, outcome: disposition.outcome, ...idsOf(decoded) }, 'message handled');
      } else if (!this.stopping.signal.aborted) {
        channel.nack(message, false, true);
        this.metrics.messagesConsumed.inc({ queue, outcome: 'requeued' });
        this.logger.warn({ queue, heldMs: this.options.maxHoldMs, ...idsOf(decoded) }, 'message held too long; requeued');
      }
      // Stopping: unacked, redelivered to the next consumer.
    } finally {
      clearTimeout(holdTimer);
      this.stopping.signal.removeEventListener('abort', onStop);
    }
  }

  /**
   * Hands the message to where its effect becomes durable, retrying with backoff; resolves with what
   * was done, or with nothing once `held` aborts. Acking is the caller's, so that a message given
   * back to the broker is never acked too.
   */
  private async handOver(
    channel: ConfirmChannel,
    queue: ConsumedQueue,
    decoded: Decoded,
    message: ConsumeMessage,
    held: AbortSignal,
  ): Promise<Disposition | undefined> {
    if (decoded.ok && decoded.message.kind !== 'userSignup') await this.options.admission?.waitForRoom(held);
    let permanentFailures = 0;
    let lastFailure: unknown;
    for (let attempt = 1; !held.aborted && this.consumer.current === channel; attempt++) {
      try {
        const disposition = await this.dispose(decoded, permanentFailures, lastFailure);
        if (disposition.outcome === 'dead_lettered') await this.deadLetter(channel, queue, message, disposition.reason, decoded);
        return disposition;
      } catch (error) {
        lastFailure = error;
        if (isPermanentFailure(error)) permanentFailures++;
        this.metrics.bridgeRetries.inc({ queue });
        this.logger.warn({ err: error, queue, attempt, permanentFailures, ...idsOf(decoded) }, 'message not handed over yet; retrying');
        await sleep(backoffDelayMs(RETRY_BACKOFF, attempt), held);
      }
    }
    return undefined;
  }

  /**
   * Routes the message; after `maxPermanentFailures` permanent failures gives it up through the
   * router (a `transaction.completed` is refused as an invalid one is), and if that fails for good
   * too, dead-letters it alone.
   */
  private dispose(decoded: Decoded, permanentFailures: number, lastFailure: unknown): Promise<Disposition> {
    if (!decoded.ok) return Promise.resolve({ outcome: 'dead_lettered', reason: decoded.reason });
    const limit = this.options.maxPermanentFailures;
    if (permanentFailures < limit) return this.router.route(decoded.message);
    const problem = `failed ${limit} times: ${lastFailure instanceof Error ? lastFailure.message : String(lastFailure)}`;
    if (permanentFailures === limit) return this.router.giveUp(decoded.message, problem);
    return Promise.resolve({ outcome: 'dead_lettered', reason: problem });
  }

  private async deadLetter(channel: ConfirmChannel, queue: ConsumedQueue, message: ConsumeMessage, reason: string, decoded: Decoded) {
    try {
      await deadLetter(channel, queue, message, reason);
    } catch (error) {
      // Most likely wallet.dlq is full: the message stays in its queue, and operators must know.
      this.metrics.deadLettersRefused.inc({ queue });
      this.logger.error({ err: error, queue, reason, ...idsOf(decoded) }, 'the dead-letter queue refused a message; it stays in its queue');
      throw error;
    }
    this.metrics.deadLettered.inc({ queue });
    this.logger.warn({ queue, reason, ...idsOf(decoded) }, 'message dead-lettered');
  }
}

function untilAborted(signal: AbortSignal): Promise<undefined> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve(undefined);
    else signal.addEventListener('abort', () => resolve(undefined), { once: true });
  });
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
