import type { Channel, ConfirmChannel } from 'amqplib';
import type { BrokerChannelOptions } from './broker-channel';

// The platform's RabbitMQ topology (../shared/CONTRACT.md), declared exactly as every other service
// declares it: direct durable exchanges, durable queues without arguments.

export const EXCHANGES = {
  auth: 'auth.events',
  transactions: 'transaction.events',
} as const;

export const ROUTING_KEYS = {
  userSignup: 'user.signup',
  transactionCompleted: 'transaction.completed',
  transactionFailed: 'transaction.failed',
  transactionFinalized: 'wallet.transactionFinalized',
} as const;

export const QUEUES = {
  userSignup: 'wallet.user.q',
  transactionCompleted: 'wallet.update.q',
  transactionFailed: 'wallet.revert.q',
  transactionFinalized: 'transaction.finalized.q',
} as const;

export type ConsumedQueue = typeof QUEUES.userSignup | typeof QUEUES.transactionCompleted | typeof QUEUES.transactionFailed;

export const CONSUMED_QUEUES: readonly ConsumedQueue[] = [QUEUES.userSignup, QUEUES.transactionCompleted, QUEUES.transactionFailed];

const BINDINGS = [
  { queue: QUEUES.userSignup, exchange: EXCHANGES.auth, routingKey: ROUTING_KEYS.userSignup },
  { queue: QUEUES.transactionCompleted, exchange: EXCHANGES.transactions, routingKey: ROUTING_KEYS.transactionCompleted },
  { queue: QUEUES.transactionFailed, exchange: EXCHANGES.transactions, routingKey: ROUTING_KEYS.transactionFailed },
  { queue: QUEUES.transactionFinalized, exchange: EXCHANGES.transactions, routingKey: ROUTING_KEYS.transactionFinalized },
] as const;

/**
 * The wallet's own dead-letter route. Rejected messages are republished here (then acked) rather
 * than through queue arguments, which would change the platform's queue declarations.
 */
export const DEAD_LETTER = {
  exchange: 'wallet.dlx',
  queue: 'wallet.dlq',
  // Bounded; past it the broker refuses the republish and the message stays in its own queue.
  maxLength: 1_000_000,
  headers: {
    reason: 'x-wallet-dead-letter-reason',
    queue: 'x-wallet-original-queue',
    exchange: 'x-wallet-original-exchange',
    routingKey: 'x-wallet-original-routing-key',
    at: 'x-wallet-dead-lettered-at',
  },
} as const;

/**
 * The wallet's own copy of every `wallet.transactionFinalized` the broker routes, bound beside the
 * platform's queue: see FinalizationEcho. One consumer at a time reads it, in order. Bounded; past
 * the bound the oldest copies go, which at worst lets a retried step announce once more.
 */
export const FINALIZATION_ECHO = {
  queue: 'wallet.finalization.echo',
  maxLength: 1_000_000,
  fenceHeader: 'x-wallet-echo-fence',
  fenceOriginHeader: 'x-wallet-echo-fence-origin',
} as const;

export async function declareTopology(channel: Channel): Promise<void> {
  for (const exchange of Object.values(EXCHANGES)) {
    await channel.assertExchange(exchange, 'direct', { durable: true });
  }
  for (const binding of BINDINGS) {
    await channel.assertQueue(binding.queue, { durable: true });
    await channel.bindQueue(binding.queue, binding.exchange, binding.routingKey);
  }
  await channel.assertExchange(DEAD_LETTER.exchange, 'fanout', { durable: true });
  await channel.assertQueue(DEAD_LETTER.queue, {
    durable: true,
    maxLength: DEAD_LETTER.maxLength,
    arguments: { 'x-overflow': 'reject-publish' },
  });
  await channel.bindQueue(DEAD_LETTER.queue, DEAD_LETTER.exchange, '');
  await channel.assertQueue(FINALIZATION_ECHO.queue, {
    durable: true,
    maxLength: FINALIZATION_ECHO.maxLength,
    arguments: { 'x-overflow': 'drop-head', 'x-single-active-consumer': true },
  });
  await channel.bindQueue(FINALIZATION_ECHO.queue, EXCHANGES.transactions, ROUTING_KEYS.transactionFinalized);
}

/**
 * A confirm channel on which the topology is declared before `setUp`, if any, runs (see BrokerConnection.channel).
 */
export function topologyChannel(
  purpose: string,
  setUp: BrokerChannelOptions<ConfirmChannel>['setUp'] = async () => undefined,
  consumes: readonly string[] = [],
): BrokerChannelOptions<ConfirmChannel> {
  return {
    purpose,
    consumes,
    create: (connection) => connection.createConfirmChannel(),
    setUp: async (channel, consume) => {
      await declareTopology(channel);
      await setUp(channel, consume);
    },
  };
}
