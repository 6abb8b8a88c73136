import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { Logger } from '../logger';
import { sleep } from '../support/backoff';

const POLL_INTERVAL_MS = 250;
const DESCRIBE_TIMEOUT_MS = 2_000;

/**
 * Admission control for new transaction executions: while more workflow tasks than `maxBacklog`
 * wait on the task queue for a worker, callers wait. The backlog is read from Temporal (shared by
 * every process), at most once per poll interval; Temporal's count itself lags by a few seconds, so
 * the gate reacts within seconds, not at once. If it cannot be read, callers pass: starting the
 * execution then meets the same outage and is retried by the bridge.
 */
export class WorkflowBacklogGate {
  private backlog = 0;
  private readAt = 0;
  private reading: Promise<void> | undefined;

  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    private readonly maxBacklog: number,
    private readonly logger: Logger,
  ) {}

  /** Resolves once the backlog is below the limit, or when `signal` aborts. */
  async waitForRoom(signal: AbortSignal): Promise<void> {
    for (;;) {
      if (Date.now() - this.readAt >= POLL_INTERVAL_MS) await (this.reading ??= this.read().finally(() => (this.reading = undefined)));
      if (this.backlog < this.maxBacklog || signal.aborted) return;
      await sleep(POLL_INTERVAL_MS, signal);
    }
  }

  private async read(): Promise<void> {
    try {
      this.backlog = await workflowBacklogOf(this.client, this.taskQueue, DESCRIBE_TIMEOUT_MS);
    } catch (error) {
      this.logger.debug({ err: error }, 'workflow backlog not readable; admitting');
      this.backlog = 0;
    }
    this.readAt = Date.now();
  }
}

/** Workflow tasks waiting on `taskQueue` for a worker, as Temporal counts them (seconds behind). */
export async function workflowBacklogOf(client: Client, taskQueue: string, timeoutMs: number): Promise<number> {
  const response = await client.withDeadline(Date.now() + timeoutMs, () =>
    client.workflowService.describeTaskQueue({
      namespace: client.options.namespace,
      taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
      taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
      reportStats: true,
    }),
  );
  return Number(response.stats?.approximateBacklogCount ?? 0);
}
