import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { TransactionCompleted } from '../../../src/domain';
import { objectId } from '../../support/ids';
import type { InMemoryWallet } from './in-memory-wallet';

/**
 * A worker on a task queue of its own, with in-memory activities: on the test run's Temporal server,
 * or on the server of a test environment given (the time-skipping one).
 */
export class WorkflowSpecs {
  private worker: Worker | undefined;
  private running: Promise<void> | undefined;
  private ownClient: Client | undefined;

  constructor(
    private readonly wallet: InMemoryWallet,
    private readonly server?: TestWorkflowEnvironment,
  ) {}

  async start(): Promise<{ client: Client; taskQueue: string }> {
    const address = process.env.WALLET_TEST_TEMPORAL_ADDRESS!;
    const taskQueue = `workflow-specs-${randomBytes(4).toString('hex')}`;
    this.worker = await Worker.create({
      connection: this.server?.nativeConnection ?? (await NativeConnection.connect({ address })),
      taskQueue,
      workflowBundle: { codePath: process.env.WALLET_TEST_WORKFLOW_BUNDLE! },
      activities: this.wallet.activities,
    });
    this.running = this.worker.run();
    if (this.server) return { client: this.server.client, taskQueue };
    this.ownClient = new Client({ connection: await Connection.connect({ address }) });
    return { client: this.ownClient, taskQueue };
  }

  async stop(): Promise<void> {
    this.worker?.shutdown();
    await this.running;
    await this.ownClient?.connection.close();
  }
}

/** A completed transfer between two wallets, under a new transaction id. */
export function transferOf(fromUserId: string, toUserId: string, amount: number): TransactionCompleted {
  return { transactionId: objectId(), type: 'Transfer', fromUserId, toUserId, amount };
}
