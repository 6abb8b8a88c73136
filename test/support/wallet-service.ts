import { randomBytes } from 'node:crypto';
import type { WorkerOptions } from '@temporalio/worker';
import mongoose from 'mongoose';
import { loadConfig, type WalletConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { startWalletService, type WalletService } from '../../src/service';
import { databaseUrlFor, TEST_RABBITMQ_URL } from './tools';

/** A key pair is not needed until the read API; any PEM public key satisfies the configuration. */
const PLACEHOLDER_PUBLIC_KEY = '-----BEGIN PUBLIC KEY-----\nplaceholder\n-----END PUBLIC KEY-----';

/** The configuration a suite's service runs with: its own database and task queue, the shared servers. */
export function testConfig(suite: string, env: Record<string, string> = {}): WalletConfig {
  const address = process.env.WALLET_TEST_TEMPORAL_ADDRESS;
  if (!address) throw new Error('the jest global setup did not start Temporal');
  return loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PORT: '0',
    DATABASE_URL: databaseUrlFor(`wallet_test_${suite}`),
    RABBITMQ_URL: withShortHeartbeat(TEST_RABBITMQ_URL),
    JWT_PUBLIC_KEY: PLACEHOLDER_PUBLIC_KEY,
    TEMPORAL_ADDRESS: address,
    TEMPORAL_TASK_QUEUE: `wallet-test-${suite}-${randomBytes(4).toString('hex')}`,
    // Suites share one Temporal namespace: the schedule is the operations suite's to create.
    RECONCILIATION_INTERVAL_MINUTES: '0',
    VERIFICATION_INTERVAL_HOURS: '0',
    ...env,
  });
}

/**
 * A rollback waits three broker heartbeats before it moves money back (RollbackDecision): specs
 * run with a short heartbeat, unless the URL names one.
 */
function withShortHeartbeat(url: string): string {
  const parsed = new URL(url);
  if (!parsed.searchParams.has('heartbeat')) parsed.searchParams.set('heartbeat', '3');
  return parsed.toString();
}

/** Drops the suite's database and starts the real service against the real servers. */
export async function startTestService(
  suite: string,
  env: Record<string, string> = {},
  workerInterceptors?: WorkerOptions['interceptors'],
  { keepDatabase = false, workflowBundlePath = process.env.WALLET_TEST_WORKFLOW_BUNDLE! } = {},
): Promise<WalletService> {
  const config = testConfig(suite, env);
  if (!keepDatabase) await dropDatabase(config.mongo.url);
  return startWalletService(config, {
    logger: createLogger(config.logLevel, { suite }),
    workflowBundle: { codePath: workflowBundlePath },
    workerInterceptors,
  });
}

export async function dropDatabase(url: string): Promise<void> {
  const connection = await mongoose.createConnection(url, { serverSelectionTimeoutMS: 5_000 }).asPromise();
  try {
    await connection.dropDatabase();
  } finally {
    await connection.close();
  }
}
