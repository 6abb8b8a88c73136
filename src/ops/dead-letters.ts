import type { ConfirmChannel, GetMessage } from 'amqplib';
import { canonicalObjectId } from '../domain';
import { publishConfirmed } from '../messaging/publish-confirmed';
import { CONSUMED_QUEUES, DEAD_LETTER, QUEUES } from '../messaging/topology';
import { settledFor } from '../transaction-record/what-events-change';
import type { OperationsContext, OperatorOverride } from './operations-context';

/** Dead letters handled by one listing or replay, at most. */
export const MAX_DEAD_LETTERS_PER_CALL = 1_000;

export interface DeadLetterView {
  reason: string;
  queue: string;
  exchange: string;
  routingKey: string;
  deadLetteredAt: string;
  body: string;
}

/** Reads the dead letters without removing them (they are returned to the queue afterwards). */
export async function listDeadLetters(ctx: OperationsContext, limit: number): Promise<DeadLetterView[]> {
  const channel = requireChannel(ctx);
  const taken = await takeDeadLetters(channel, limit);
  const views = taken.map((message) => viewOf(message.properties.headers ?? {}, message.content));
  if (taken.length > 0) {
    channel.nackAll(true);
    // A round trip on the same channel: once it answers, the broker has put them back.
    await channel.checkQueue(DEAD_LETTER.queue);
  }
  return views;
}

export interface ReplayReport {
  replayed: DeadLetterView[];
  /** Dead letters left in the queue, with why. */
  kept: Array<DeadLetterView & { refusal: string }>;
}

/**
 * Publishes dead letters again to the wallet's queue they were refused from (once their cause is
 * fixed), each exactly as the platform sent it, and removes them from the dead-letter queue once the
 * broker confirmed the copy. The copy goes to that queue alone, through the default exchange: the
 * original exchange and key would deliver it again to every other service bound to them. Kept in
 * the queue instead, and passed over: a letter from no queue of the wallet's, and one about a
 * transaction its record says the wallet would ignore (unless forced).
 */
export async function replayDeadLetters(
  ctx: OperationsContext,
  count: number,
  { force = false }: OperatorOverride = {},
): Promise<ReplayReport> {
  const channel = requireChannel(ctx);
  // Only the letters there now: one replayed and dead-lettered again goes behind them, never taken twice.
  const { messageCount } = await channel.checkQueue(DEAD_LETTER.queue);
  const report: ReplayReport = { replayed: [], kept: [] };
  const passedOver: GetMessage[] = [];
  try {
    for (let looked = 0; looked < Math.min(messageCount, MAX_DEAD_LETTERS_PER_CALL) && report.replayed.length < count; looked++) {
      const message = await channel.get(DEAD_LETTER.queue, { noAck: false });
      if (!message) break;
      const view = viewOf(message.properties.headers ?? {}, message.content);
      const refusal = await replayRefusal(ctx, view, force);
      if (refusal) {
        // Held unacknowledged until the end, so that the next get reaches the letter behind it.
        passedOver.push(message);
        report.kept.push({ ...view, refusal });
        continue;
      }
      await publishConfirmed(channel, '', view.queue, message.content, {});
      channel.ack(message);
      report.replayed.push(view);
    }
  } catch (error) {
    channel.nackAll(true);
    throw error;
  }
  for (const message of passedOver) channel.nack(message, false, true);
  return report;
}

/** Why a dead letter must stay where it is, or undefined when it may be replayed. */
async function replayRefusal(ctx: OperationsContext, view: DeadLetterView, force: boolean): Promise<string | undefined> {
  // Published to a queue that is not there, the copy would be confirmed and lost with the ack.
  if (!(CONSUMED_QUEUES as readonly string[]).includes(view.queue))
    return "it names no queue of the wallet's: there is nowhere to replay it";
  const event = EVENT_OF_QUEUE[view.queue];
  const transactionId = event && transactionIdIn(view.body);
  if (!transactionId || force) return undefined;
  if (!(await settledFor(event, transactionId, ctx.stores.records, ctx.stores.finalizations))) return undefined;
  const status = await ctx.stores.records.statusOf(transactionId);
  return `transaction ${transactionId} is final (${status}): the wallet would ignore it and no money would move; pass --force to publish it anyway`;
}

const EVENT_OF_QUEUE: Record<string, 'completed' | 'failed' | undefined> = {
  [QUEUES.transactionCompleted]: 'completed',
  [QUEUES.transactionFailed]: 'failed',
};

function transactionIdIn(body: string): string | undefined {
  try {
    const id: unknown = (JSON.parse(body) as { transactionId?: unknown } | null)?.transactionId;
    return canonicalObjectId(id);
  } catch {
    return undefined;
  }
}

/** Takes up to `count` dead letters, unacked: the caller acks or returns them. */
async function takeDeadLetters(channel: ConfirmChannel, count: number): Promise<GetMessage[]> {
  const taken: GetMessage[] = [];
  for (let i = 0; i < Math.min(count, MAX_DEAD_LETTERS_PER_CALL); i++) {
    const message = await channel.get(DEAD_LETTER.queue, { noAck: false });
    if (!message) break;
    taken.push(message);
  }
  return taken;
}

function viewOf(headers: Record<string, unknown>, content: Buffer): DeadLetterView {
  const h = DEAD_LETTER.headers;
  return {
    reason: textOf(headers[h.reason]),
    queue: textOf(headers[h.queue]),
    exchange: textOf(headers[h.exchange]),
    routingKey: textOf(headers[h.routingKey]),
    deadLetteredAt: textOf(headers[h.at]),
    body: content.toString('utf8'),
  };
}

/** A header as text: AMQP delivers the wallet's string headers as strings (or buffers, from some clients). */
function textOf(header: unknown): string {
  if (typeof header === 'string') return header;
  return Buffer.isBuffer(header) ? header.toString('utf8') : '';
}

function requireChannel(ctx: OperationsContext): ConfirmChannel {
  if (!ctx.channel) throw new Error('this command needs RabbitMQ');
  return ctx.channel;
}
