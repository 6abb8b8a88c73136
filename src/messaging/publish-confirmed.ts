import type { ConfirmChannel, Options } from 'amqplib';

/** How long a publisher waits for the broker's confirm before the step fails and is retried. */
export const CONFIRM_TIMEOUT_MS = 5_000;

/** Publishes a persistent message and resolves when the broker confirms it (rejects on nack or timeout). */
export function publishConfirmed(
  channel: ConfirmChannel,
  exchange: string,
  routingKey: string,
  body: Buffer,
  options: Omit<Options.Publish, 'persistent'> = {},
  timeoutMs = CONFIRM_TIMEOUT_MS,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`broker did not confirm within ${timeoutMs}ms`)), timeoutMs);
    try {
      channel.publish(exchange, routingKey, body, { ...options, persistent: true }, (error) => {
        clearTimeout(timer);
        if (error) reject(error instanceof Error ? error : new Error(`broker refused the message: ${String(error)}`));
        else resolve();
      });
    } catch (error) {
      clearTimeout(timer);
      reject(error instanceof Error ? error : new Error(String(error)));
    }
  });
}
