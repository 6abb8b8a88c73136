import { temporal } from '@temporalio/proto';
import { TransactionWorkflows } from '../../src/temporal/transaction-workflows';
import { transactionWorkflowId } from '../../workflows/wallet-transaction/definitions';
import { objectId } from '../support/ids';
import { UnpolledTaskQueue } from '../support/unpolled-task-queue';

const EventType = temporal.api.enums.v1.EventType;

/**
 * Transaction executions as the bridge starts them, on a task queue no worker polls: this spec polls
 * it itself, and so can take a workflow task and never answer it, as a task is lost when Temporal
 * records it started but never delivers it to the worker that polled (temporalio/temporal#11733).
 */
describe('a transaction execution started by the bridge', () => {
  let queue: UnpolledTaskQueue;

  beforeAll(async () => {
    queue = await UnpolledTaskQueue.open('transaction-workflows');
  });
  afterAll(() => queue.close());

  it('gets a workflow task lost on its way to the worker again after five seconds, not ten', async () => {
    const [sender, recipient, transactionId] = [objectId(), objectId(), objectId()];
    const workflowId = transactionWorkflowId(transactionId);
    queue.terminateAtClose(workflowId);
    await new TransactionWorkflows(queue.client, queue.name, 60_000).submitCompleted({
      transactionId,
      type: 'Transfer',
      fromUserId: sender,
      toUserId: recipient,
      amount: 100,
    });

    const lost = await queue.takeWorkflowTask();
    const again = await queue.takeWorkflowTask();

    expect([lost.attempt, again.attempt]).toEqual([1, 2]);
    const { events } = await queue.client.workflow.getHandle(workflowId).fetchHistory();
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
