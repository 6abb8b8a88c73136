import { randomUUID } from 'node:crypto';
import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import type { TransactionFinalized } from '../domain';
import type { Logger } from '../logger';
import type { BrokerChannel } from '../messaging/broker-channel';
import type { BrokerConnection } from '../messaging/broker-connection';
import { publishConfirmed } from '../messaging/publish-confirmed';
import { FINALIZATION_ECHO, topologyChannel } from '../messaging/topology';
import { backoffDelayMs, sleep } from '../support/backoff';
import { decodeFinalization } from './announcement';
import type { FinalizationLog } from './finalization-log';

const PREFETCH = 200;
// Below the finalization step's own 10 s timeout, so a slow echo fails the attempt, which is retried.
const CATCH_UP_TIMEOUT_MS = 5_000;
// A fence this process put is seen in memory; one another process's consumer reached is polled for.
const REMOTE_FENCE_POLL_MS = 1_000;
const RECORD_BACKOFF = { initialMs: 200, maxMs: 10_000 };

/**
 * Learns from the broker itself which announcements got through. The broker routes every
 * `wallet.transactionFinalized` both to the platform's queue and to the wallet's echo queue, in one
 * step; the echo's single active consumer records each copy, in order, in the finalization log.
 * A finalization step that runs again after its process died waiting for a confirm cannot tell
 * from its own memory whether that announcement was routed; it puts a fence in the echo queue and,
 * once the consumer has reached the fence, the log answers.
 */
export class FinalizationEcho {
  private readonly channel: BrokerChannel;
  private readonly origin = randomUUID();
  private readonly fenceWaiters = new Map<string, () => void>();

  /** `maxHoldMs` bounds how long copies stay unacked while the log cannot be written (see bridge's). */
  constructor(
    broker: BrokerConnection,
    private readonly log: Pick<FinalizationLog, 'recordDelivered' | 'recordFence' | 'takeFence'>,
    private readonly maxHoldMs: number,
    private readonly logger: Logger,
  ) {
    this.channel = broker.channel(
      topologyChannel(
        'finalization echo',
        async (channel, consume) => {
          await channel.prefetch(PREFETCH);
          const recorder = new BatchRecorder((batch, heldSince) => this.record(channel, batch, heldSince));
          await consume(FINALIZATION_ECHO.queue, (message) => recorder.add(message));
        },
        [FINALIZATION_ECHO.queue],
      ),
    );
  }

  /** Resolves once every announcement routed before this call is in the finalization log. */
  async catchUp(): Promise<void> {
    const channel = this.channel.current;
    if (!channel) throw new Error('RabbitMQ is not connected; the finalization step will be retried');
    const fenceId = randomUUID();
    const reachedHere = new Promise<void>((resolve) => this.fenceWaiters.set(fenceId, resolve));
    const done = new AbortController();
    try {
      const headers = { [FINALIZATION_ECHO.fenceHeader]: fenceId, [FINALIZATION_ECHO.fenceOriginHeader]: this.origin };
      await publishConfirmed(channel, '', FINALIZATION_ECHO.queue, Buffer.from('{}'), { headers });
      const reached = await Promise.race([
        reachedHere.then(() => true),
        this.reachedElsewhere(fenceId, done.signal),
        sleep(CATCH_UP_TIMEOUT_MS, done.signal).then(() => false),
      ]);
      if (!reached) throw new Error(`the finalization echo did not catch up within ${CATCH_UP_TIMEOUT_MS}ms; the step will be retried`);
    } finally {
      done.abort();
      this.fenceWaiters.delete(fenceId);
    }
  }

  /** Polls for the fence being reached by the consumer of another process (the queue has one at a time). */
  private async reachedElsewhere(fenceId: string, signal: AbortSignal): Promise<boolean> {
    while (!signal.aborted) {
      await sleep(REMOTE_FENCE_POLL_MS, signal);
      if (!signal.aborted && (await this.log.takeFence(fenceId))) return true;
    }
    return false;
  }

  /**
   * Records a batch of copies, in one write for the announcements, retrying the database with
   * backoff; on a lost channel the broker redelivers them. A fence is reached once everything before
   * it in its batch is recorded. Copies held past the bound go back to the queue, in order, with the
   * channel, which opens again.
   */
  private async record(channel: ConfirmChannel, batch: ConsumeMessage[], heldSince: number): Promise<void> {
    const fences = batch.map(fenceOf).filter((fence) => fence !== undefined);
    const announcements = batch.filter((message) => fenceOf(message) === undefined).flatMap((message) => this.decoded(message));
    for (let attempt = 1; this.channel.current === channel; attempt++) {
      try {
        await this.log.recordDelivered(announcements);
        for (const fence of fences) {
          if (fence.origin !== this.origin) await this.log.recordFence(fence.id);
          else this.fenceWaiters.get(fence.id)?.();
        }
        channel.ack(batch[batch.length - 1], true);
        return;
      } catch (error) {
        this.logger.warn({ err: error, attempt }, 'finalization echo not recorded; retrying');
        const left = heldSince + this.maxHoldMs - Date.now();
        if (left <= 0) {
          this.channel.recycle(channel, `finalization echo copies held unrecorded for ${this.maxHoldMs}ms`);
          return;
        }
        await sleep(Math.min(left, backoffDelayMs(RECORD_BACKOFF, attempt)));
      }
    }
  }

  private decoded(message: ConsumeMessage): TransactionFinalized[] {
    const finalized = decodeFinalization(message.content);
    if (finalized) return [finalized];
    this.logger.warn({ body: message.content.toString('utf8', 0, 200) }, 'finalization echo: not an announcement; dropped');
    return [];
  }
}

function fenceOf(message: ConsumeMessage): { id: string; origin: unknown } | undefined {
  const headers = message.properties.headers ?? {};
  const id: unknown = headers[FINALIZATION_ECHO.fenceHeader];
  return typeof id === 'string' ? { id, origin: headers[FINALIZATION_ECHO.fenceOriginHeader] } : undefined;
}

/**
 * Hands messages, in order, to `record` in batches of whatever arrived while the previous batch was
 * being recorded (at most the channel's prefetch), one batch at a time.
 */
class BatchRecorder {
  private waiting: ConsumeMessage[] = [];
  private oldestWaitingSince = 0;
  private recording = false;

  constructor(private readonly record: (batch: ConsumeMessage[], heldSince: number) => Promise<void>) {}

  add(message: ConsumeMessage): void {
    if (this.waiting.length === 0) this.oldestWaitingSince = Date.now();
    this.waiting.push(message);
    if (!this.recording) void this.recordWaiting();
  }

  private async recordWaiting(): Promise<void> {
    this.recording = true;
    try {
      while (this.waiting.length > 0) {
        const batch = this.waiting;
        this.waiting = [];
        await this.record(batch, this.oldestWaitingSince);
      }
    } finally {
      this.recording = false;
    }
  }
}
