import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { InMemoryWallet } from './in-memory-wallet';

/** A worker on a task queue of its own, on the test run's Temporal server, with in-memory activities. */
export class WorkflowSpecs {
  private worker: Worker | undefined;
  private running: Promise<void> | undefined;
  private client: Client | undefined;

  constructor(private readonly wallet: InMemoryWallet) {}

  async start(): Promise<{ client: Client; taskQueue: string }> {
    const address = process.env.WALLET_TEST_TEMPORAL_ADDRESS!;
    const taskQueue = `workflow-specs-${randomBytes(4).toString('hex')}`;
    this.worker = await Worker.create({
      connection: await NativeConnection.connect({ address }),
      taskQueue,
      workflowBundle: { codePath: process.env.WALLET_TEST_WORKFLOW_BUNDLE! },
      activities: this.wallet.activities,
    });
    this.running = this.worker.run();
    this.client = new Client({ connection: await Connection.connect({ address }) });
    return { client: this.client, taskQueue };
  }

  async stop(): Promise<void> {
    this.worker?.shutdown();
    await this.running;
    await this.client?.connection.close();
  }
}
