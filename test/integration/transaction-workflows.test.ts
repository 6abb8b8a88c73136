import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TransactionWorkflows } from '../../src/temporal/transaction-workflows';
import { transactionWorkflowId } from '../../workflows/wallet-transaction/definitions';
import { eventually } from '../support/eventually';
import { objectId } from '../support/ids';

const EventType = temporal.api.enums.v1.EventType;

/**
 * Transaction executions as the bridge starts them, on a task queue no worker polls: this spec polls
 * it itself, and so can take a workflow task and never answer it, as a task is lost when Temporal
 * records it started but never delivers it to the worker that polled (temporalio/temporal#11733).
 */
describe('a transaction execution started by the bridge', () => {
  let connection: Connection;
  let client: Client;
  const taskQueue = `transaction-workflows-${objectId()}`;
  const started: string[] = [];

  beforeAll(async () => {
    connection = await Connection.connect({ address: process.env.WALLET_TEST_TEMPORAL_ADDRESS! });
    client = new Client({ connection });
  });
  afterAll(async () => {
    await Promise.all(
      started.map((id) =>
        client.workflow
          .getHandle(id)
          .terminate('test over')
          .catch(() => undefined),
      ),
    );
    await connection.close();
  });

  /** A worker's poll: the next workflow task of the queue. A poll that finds none comes back empty at its deadline: poll again. */
  function takeWorkflowTask(): Promise<temporal.api.workflowservice.v1.PollWorkflowTaskQueueResponse> {
    return eventually('a workflow task', async () => {
      const task = await client.withDeadline(Date.now() + 3_000, () =>
        client.workflowService.pollWorkflowTaskQueue({ namespace: 'default', taskQueue: { name: taskQueue }, identity: 'lost-task-spec' }),
      );
      return task.taskToken?.length ? task : undefined;
    });
  }

  it('gets a workflow task lost on its way to the worker again after five seconds, not ten', async () => {
    const [sender, recipient, transactionId] = [objectId(), objectId(), objectId()];
    const workflowId = transactionWorkflowId(transactionId);
    started.push(workflowId);
    await new TransactionWorkflows(client, taskQueue, 60_000).submitCompleted({
      transactionId,
      type: 'Transfer',
      fromUserId: sender,
      toUserId: recipient,
      amount: 100,
    });

    const lost = await takeWorkflowTask();
    const again = await takeWorkflowTask();

    expect([lost.attempt, again.attempt]).toEqual([1, 2]);
    const { events } = await client.workflow.getHandle(workflowId).fetchHistory();
    const at = (type: temporal.api.enums.v1.EventType) => {
      const event = events!.find((e) => e.eventType === type)!;
      return Number(event.eventTime!.seconds) * 1000 + Math.floor(event.eventTime!.nanos! / 1e6);
    };
    // By the server's clock: from the lost task's start to its timeout.
    const waited = at(EventType.EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT) - at(EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED);
    expect(waited).toBeGreaterThanOrEqual(5_000);
    expect(waited).toBeLessThan(7_000);
  });
});
