import type { ConfirmChannel, Message } from 'amqplib';
import { publishConfirmed } from './publish-confirmed';
import { DEAD_LETTER } from './topology';

const MAX_REASON_LENGTH = 1_000;

/**
 * Moves a rejected message to the wallet's dead-letter queue, unchanged, with the reason and its
 * origin in headers. Resolves once the broker holds the copy, so the original can then be acked.
 */
export function deadLetter(channel: ConfirmChannel, queue: string, message: Message, reason: string): Promise<void> {
  const h = DEAD_LETTER.headers;
  return publishConfirmed(channel, DEAD_LETTER.exchange, queue, message.content, {
    headers: {
      [h.reason]: reason.slice(0, MAX_REASON_LENGTH),
      [h.queue]: queue,
      [h.exchange]: message.fields.exchange,
      [h.routingKey]: message.fields.routingKey,
      [h.at]: new Date().toISOString(),
    },
  });
}
