import { Client, Connection } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { eventually } from './eventually';
import { objectId } from './ids';

type WorkflowTask = temporal.api.workflowservice.v1.PollWorkflowTaskQueueResponse;

/**
 * A task queue on the real Temporal server that no worker polls: the spec plays the worker, taking
 * workflow tasks itself and answering none. Executions started on it are terminated at `close`.
 */
export class UnpolledTaskQueue {
  readonly name: string;
  private readonly started: string[] = [];

  private constructor(
    private readonly connection: Connection,
    readonly client: Client,
    prefix: string,
  ) {
    this.name = `${prefix}-${objectId()}`;
  }

  static async open(prefix: string): Promise<UnpolledTaskQueue> {
    const connection = await Connection.connect({ address: process.env.WALLET_TEST_TEMPORAL_ADDRESS! });
    return new UnpolledTaskQueue(connection, new Client({ connection }), prefix);
  }

  terminateAtClose(workflowId: string): void {
    this.started.push(workflowId);
  }

  /**
   * A worker's poll: the next workflow task. A poll reaches one of the queue's partitions and comes
   * back empty near its deadline if that one holds no task: poll again.
   */
  takeWorkflowTask(): Promise<WorkflowTask> {
    return eventually('a workflow task', async () => {
      const task = await this.client.withDeadline(Date.now() + 3_000, () =>
        this.client.workflowService.pollWorkflowTaskQueue({
          namespace: 'default',
          taskQueue: { name: this.name },
          identity: 'unpolled-task-queue-spec',
        }),
      );
      return task.taskToken?.length ? task : undefined;
    });
  }

  async close(): Promise<void> {
    await Promise.all(
      this.started.map((id) =>
        this.client.workflow
          .getHandle(id)
          .terminate('test over')
          .catch(() => undefined),
      ),
    );
    await this.connection.close();
  }
}
