import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import type { WalletActivities } from '../../activities';
import type { WalletConfig } from '../config';
import { WORKFLOW_TRACING_MODULE, type Tracing } from '../tracing/tracing';

export interface WalletWorkerOptions {
  config: WalletConfig['temporal'];
  activities: WalletActivities;
  tracing: Tracing;
  /** A pre-built workflow bundle (tests build one for all); else TEMPORAL_WORKFLOW_BUNDLE, else bundled at start. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  interceptors?: WorkerOptions['interceptors'];
}

/** The Temporal worker that runs transaction workflows and their ledger and finalization activities. */
export async function createWalletWorker(options: WalletWorkerOptions): Promise<{ worker: Worker; connection: NativeConnection }> {
  const { config, tracing } = options;
  const bundlePath =
    config.workflowBundlePath && (tracing.enabled ? tracedBundlePath(config.workflowBundlePath) : config.workflowBundlePath);
  const workflowBundle = options.workflowBundle ?? (bundlePath ? { codePath: bundlePath } : undefined);
  const connection = await NativeConnection.connect({ address: config.address });
  try {
    const worker = await Worker.create({
      connection,
      namespace: config.namespace,
      taskQueue: config.taskQueue,
      ...(workflowBundle ? { workflowBundle } : { workflowsPath: require.resolve('../../workflows') }),
      activities: options.activities,
      interceptors: {
        activity: [...tracing.activityInterceptors, ...(options.interceptors?.activity ?? [])],
        // Read only when the worker bundles the workflows itself; a pre-built bundle carries its own.
        workflowModules: tracing.enabled ? [WORKFLOW_TRACING_MODULE] : [],
      },
      sinks: tracing.workflowSinks,
      maxConcurrentActivityTaskExecutions: config.maxConcurrentActivities,
      maxConcurrentLocalActivityExecutions: config.maxConcurrentActivities,
      maxConcurrentWorkflowTaskExecutions: 40,
      maxCachedWorkflows: config.maxCachedWorkflows,
      shutdownGraceTime: '10s',
    });
    return { worker, connection };
  } catch (error) {
    await connection.close();
    throw error;
  }
}

/** `npm run build` writes the traced bundle beside the plain one: `<name>-traced.js`. */
export function tracedBundlePath(bundlePath: string): string {
  return bundlePath.replace(/(\.js)?$/, '-traced.js');
}
