import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { WalletActivities } from '../../workflows/contract';
import type { WalletConfig } from '../config';

export interface WalletWorkerOptions {
  config: WalletConfig['temporal'];
  activities: WalletActivities;
  /** A pre-built workflow bundle (tests build one for all); else TEMPORAL_WORKFLOW_BUNDLE, else bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  interceptors?: WorkerOptions['interceptors'];
}

/** The Temporal worker that runs transaction workflows and their ledger and finalization activities. */
export async function createWalletWorker(options: WalletWorkerOptions): Promise<{ worker: Worker; connection: NativeConnection }> {
  const workflowBundle =
    options.workflowBundle ?? (options.config.workflowBundlePath ? { codePath: options.config.workflowBundlePath } : undefined);
  const connection = await NativeConnection.connect({ address: options.config.address });
  try {
    const worker = await Worker.create({
      connection,
      namespace: options.config.namespace,
      taskQueue: options.config.taskQueue,
      ...(workflowBundle ? { workflowBundle } : { workflowsPath: require.resolve('../../workflows') }),
      activities: options.activities,
      interceptors: options.interceptors,
      maxConcurrentActivityTaskExecutions: options.config.maxConcurrentActivities,
      maxConcurrentLocalActivityExecutions: options.config.maxConcurrentActivities,
      maxConcurrentWorkflowTaskExecutions: 40,
      maxCachedWorkflows: options.config.maxCachedWorkflows,
      shutdownGraceTime: '10s',
    });
    return { worker, connection };
  } catch (error) {
    await connection.close();
    throw error;
  }
}
