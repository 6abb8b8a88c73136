import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { openSync } from 'node:fs';
import path from 'node:path';
import type { WalletConfig } from '../../src/config';
import { REPO_ROOT } from './tools';

/**
 * The step after which the doomed service kills itself: the ledger's application of a forward leg
 * (`applyLeg`), the broker's confirm of the transaction's finalization (`publish`, any leg), or an
 * activity about one leg of one transaction.
 */
export interface CrashPoint {
  transactionId: string;
  after: 'applyLeg' | 'publish' | 'recordDecision' | 'voidLeg' | 'undoLeg' | 'announceOutcome';
  /** The leg, for every step but `publish`. */
  leg?: string;
}

/**
 * A wallet service in a child process (test/support/crash-after-step.ts) that SIGKILLs itself right
 * after `crash`. Resolves once it consumes; `exited` resolves with how it ended.
 */
export async function startDoomedService(
  config: WalletConfig,
  crash: CrashPoint,
): Promise<{ child: ChildProcess; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> }> {
  const log = openSync(path.join(REPO_ROOT, `.run/test/crash-after-${crash.after}-${crash.leg ?? crash.transactionId}.log`), 'w');
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'crash-after-step.ts')], {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      PORT: '0',
      DATABASE_URL: config.mongo.url,
      RABBITMQ_URL: config.amqp.url,
      TEMPORAL_ADDRESS: config.temporal.address,
      TEMPORAL_TASK_QUEUE: config.temporal.taskQueue,
      JWT_PUBLIC_KEY: config.auth.publicKeyPem,
      CRASH_TRANSACTION_ID: crash.transactionId,
      CRASH_AFTER: crash.after,
      CRASH_AFTER_LEG: crash.leg ?? '',
    },
    stdio: ['ignore', 'pipe', log],
  });
  const exited = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null }));
  await readyLine(child);
  return { child, exited };
}

/** Waits for the `ready` line the child writes once its service consumes and works. */
function readyLine(doomed: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = '';
    doomed.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (/^ready$/m.test(output)) resolve();
    });
    doomed.once('exit', (code, signal) => reject(new Error(`the doomed service exited before it was ready (${code ?? signal})`)));
  });
}
