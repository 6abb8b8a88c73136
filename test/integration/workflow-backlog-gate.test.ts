import { Registry } from 'prom-client';
import { createLogger } from '../../src/logger';
import { registerPlatformState } from '../../src/monitoring/platform-state';
import { WorkflowBacklogGate, workflowBacklogOf } from '../../src/temporal/workflow-backlog-gate';
import { eventually, throughout } from '../support/eventually';
import { objectId } from '../support/ids';
import { UnpolledTaskQueue } from '../support/unpolled-task-queue';

/**
 * Executions on a task queue no worker polls: each leaves one workflow task in the backlog.
 * Temporal's backlog count lags by seconds, so a task taken here must not time out and come back
 * before the gate sees it gone: hence the long workflow task timeout.
 */
describe('the workflow backlog gate', () => {
  let queue: UnpolledTaskQueue;
  const gate = () => new WorkflowBacklogGate(queue.client, queue.name, 3, createLogger('silent'));

  beforeAll(async () => {
    queue = await UnpolledTaskQueue.open('backlog-gate');
  });
  afterAll(() => queue.close());

  async function startWaitingExecutions(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const workflowId = `backlog-gate-${objectId()}`;
      await queue.client.workflow.start('notPolledByAnyWorker', { workflowId, taskQueue: queue.name, workflowTaskTimeout: '90s' });
      queue.terminateAtClose(workflowId);
    }
  }

  async function backlog(): Promise<number> {
    const response = await queue.client.workflowService.describeTaskQueue({
      namespace: 'default',
      taskQueue: { name: queue.name },
      reportStats: true,
    });
    return Number(response.stats?.approximateBacklogCount ?? 0);
  }

  it('admits callers while fewer executions than the limit wait for a worker', async () => {
    await startWaitingExecutions(2);
    await eventually('a backlog of 2', async () => ((await backlog()) === 2 ? true : undefined));
    await expect(gate().waitForRoom(new AbortController().signal)).resolves.toBeUndefined();
  });

  // Temporal's count may stay one above the true backlog for a minute (seen under the full suite's
  // load), so the worker takes every waiting task, not just enough to reach the limit.
  it('holds callers while the limit is reached, and lets them through once a worker has taken the waiting tasks', async () => {
    await startWaitingExecutions(2);
    await eventually('a backlog of 4', async () => ((await backlog()) === 4 ? true : undefined));
    let admitted = false;
    const waiting = gate()
      .waitForRoom(new AbortController().signal)
      .then(() => (admitted = true));
    await throughout(1_500, () => expect(admitted).toBe(false));

    for (let taken = 0; taken < 4; taken++) await queue.takeWorkflowTask();
    await waiting;
    expect(admitted).toBe(true);
  });

  it('leaves the backlog gauge to show what waits when it is scraped, not what the gate saw last', async () => {
    // The gauge as the service scrapes it: a new registry for each scrape, so no reading is shared.
    const scrapedBacklog = async () => {
      const registry = new Registry();
      registerPlatformState(
        registry,
        {
          reconciliation: async () => null,
          oldestOpenTransaction: async () => null,
          waitingForOperator: async () => 0,
          workflowBacklog: () => workflowBacklogOf(queue.client, queue.name, 2_000),
          queues: async () => [],
        },
        createLogger('silent'),
      );
      return (await registry.getSingleMetric('wallet_workflow_backlog')!.get()).values[0]?.value;
    };
    await startWaitingExecutions(2);
    await eventually('a backlog of 2', async () => ((await backlog()) === 2 ? true : undefined));
    await gate().waitForRoom(new AbortController().signal);
    expect(await scrapedBacklog()).toBe(2);
    for (let taken = 0; taken < 2; taken++) await queue.takeWorkflowTask();
    await eventually('no backlog', async () => ((await backlog()) === 0 ? true : undefined), 50_000);
    expect(await scrapedBacklog()).toBe(0);
  }, 90_000);

  it('releases a waiting caller when the bridge stops', async () => {
    await startWaitingExecutions(3);
    await eventually('a backlog of at least 3', async () => ((await backlog()) >= 3 ? true : undefined));
    const stopping = new AbortController();
    const waiting = gate().waitForRoom(stopping.signal);
    stopping.abort();
    await expect(waiting).resolves.toBeUndefined();
  });
});
