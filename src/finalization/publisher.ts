import { objectIdTimeMs, type DecisionPosition, type TransactionFinalized } from '../domain';
import type { Logger } from '../logger';
import type { BrokerChannel } from '../messaging/broker-channel';
import type { BrokerConnection } from '../messaging/broker-connection';
import { publishConfirmed } from '../messaging/publish-confirmed';
import { EXCHANGES, ROUTING_KEYS, topologyChannel } from '../messaging/topology';
import { inSpan, SpanKind } from '../tracing/spans';
import type { Metrics } from '../metrics';
import { toAnnouncement } from './announcement';

/** Announces outcomes as `wallet.transactionFinalized`, returning only once the broker confirmed. */
export class FinalizationPublisher {
  private readonly channel: BrokerChannel;

  constructor(
    broker: BrokerConnection,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {
    this.channel = broker.channel(topologyChannel('finalization'));
  }

  /** `position`: the transaction's first outcome, or the one its rollback decided. */
  async publish(requested: TransactionFinalized, position: DecisionPosition): Promise<void> {
    const channel = this.channel.current;
    if (!channel) throw new Error('RabbitMQ is not connected; finalization will be retried');
    // The platform's wire format: a JSON body, persistent, no other properties; a Failed with a reason.
    const finalized = toAnnouncement(requested);
    const body = Buffer.from(JSON.stringify(finalized));
    await inSpan(
      `${ROUTING_KEYS.transactionFinalized} publish`,
      SpanKind.PRODUCER,
      {
        'messaging.system': 'rabbitmq',
        'messaging.destination.name': EXCHANGES.transactions,
        'wallet.transaction_id': finalized.transactionId,
      },
      () => publishConfirmed(channel, EXCHANGES.transactions, ROUTING_KEYS.transactionFinalized, body),
    );
    this.metrics.finalizationsPublished.inc({ status: finalized.status });
    // When the transactions service created the transaction: its id is an ObjectId.
    const createdAt = objectIdTimeMs(finalized.transactionId);
    if (position === 'first' && createdAt !== undefined) {
      this.metrics.finalizationLatency.observe({ status: finalized.status }, Math.max(0, Date.now() - createdAt) / 1000);
    }
    this.logger.info(
      { transactionId: finalized.transactionId, status: finalized.status, reason: finalized.reason },
      'transaction finalized',
    );
  }
}
