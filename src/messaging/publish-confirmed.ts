import type { ConfirmChannel, Options } from 'amqplib';

/** Publishes a persistent message and resolves when the broker confirms it (rejects on nack or timeout). */
export function publishConfirmed(
  channel: ConfirmChannel,
  exchange: string,
  routingKey: string,
  body: Buffer,
  options: Omit<Options.Publish, 'persistent'>,
  timeoutMs: number,
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
      reject(error);
    }
  });
}
