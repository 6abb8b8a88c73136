import type { Client } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../../workflows/wallet-transaction/definitions';
import type { BrokerConnection } from '../messaging/broker-connection';
import { CONSUMED_QUEUES, DEAD_LETTER, FINALIZATION_ECHO, topologyChannel } from '../messaging/topology';
import type { Stores } from '../stores';
import { workflowBacklogOf } from '../temporal/workflow-backlog-gate';
import type { PlatformStateSources } from './platform-state';

/** Each read of the platform's state gives up after this long (the scrape must answer). */
const READ_TIMEOUT_MS = 3_000;
const WATCHED_QUEUES = [...CONSUMED_QUEUES, FINALIZATION_ECHO.queue, DEAD_LETTER.queue];
const WAITING_FOR_OPERATOR = `${SEARCH_ATTRIBUTES.status.name} = "NeedsOperator" AND ExecutionStatus = "Running"`;

/** The platform's state as the stores, the broker (on a channel of its own) and Temporal's visibility tell it. */
export function platformStateSources(
  stores: Stores,
  broker: BrokerConnection,
  temporal: Client,
  { namespace, taskQueue }: { namespace: string; taskQueue: string },
): PlatformStateSources {
  const channel = broker.channel(topologyChannel('monitoring'));
  return {
    reconciliation: () => bounded(stores.reconciliation.outcome()),
    oldestOpenTransaction: () => bounded(stores.records.toReconcile.oldestMarkedAt()),
    waitingForOperator: async () => {
      const { count } = await temporal.connection.withDeadline(Date.now() + READ_TIMEOUT_MS, () =>
        temporal.workflowService.countWorkflowExecutions({ namespace, query: WAITING_FOR_OPERATOR }),
      );
      return Number(count ?? 0);
    },
    workflowBacklog: () => workflowBacklogOf(temporal, taskQueue, READ_TIMEOUT_MS),
    queues: async () => {
      const current = channel.current;
      if (!current) throw new Error('RabbitMQ is not connected');
      return bounded(
        Promise.all(
          WATCHED_QUEUES.map(async (queue) => {
            const { messageCount, consumerCount } = await current.checkQueue(queue);
            return { queue, messages: messageCount, consumers: consumerCount };
          }),
        ),
      );
    },
  };
}

function bounded<T>(read: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${READ_TIMEOUT_MS} ms`)), READ_TIMEOUT_MS);
  });
  return Promise.race([read, timeout]).finally(() => clearTimeout(timer));
}
