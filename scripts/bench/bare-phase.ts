// The bare-Temporal phase: what Temporal alone allows here. Executions of a workflow of the
// wallet's shape (scripts/bench/bare/workflow.ts), started by signal-with-start straight from a
// client, on a worker with the service's options whose activities do nothing: no broker, no database.
// Other shapes (bare/workflow.ts) measure what one part of the wallet's shape costs Temporal.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Client, Connection } from '@temporalio/client';
import { Types } from 'mongoose';
import type { BareShape } from './bare/workflow';
import { ensureSearchAttributes } from '../../src/temporal/search-attributes';
import { SEARCH_ATTRIBUTES, TRANSACTION_MEMO_KEY, transactionCompletedSignal } from '../../workflows/wallet-transaction/definitions';
import { cpuPerTransfer, sampleCpu } from './cpu';
import { percentile } from './load';
import { table } from './report';
import { progress, ROOT, round, settle, TEMPORAL_ADDRESS, type Result } from './run';

/** As many new executions may wait for a worker as the bridge lets wait (BRIDGE_MAX_WORKFLOW_BACKLOG). */
const MAX_OPEN_EXECUTIONS = 300;
const FINISH_TIMEOUT_MS = 10 * 60_000;

export interface BarePhaseResult {
  seconds: number;
  /** Start-to-finish latencies, sorted. */
  latencies: number[];
  finishedAt: number[];
  peakRssMb: number;
  cpuMsPerTransfer: Record<string, number>;
}

export async function runBarePhase(root: string, temporalAddress: string, n: number, shape: BareShape): Promise<BarePhaseResult> {
  const described = shape === 'described';
  const taskQueue = `wallet-bench-bare-${Date.now()}`;
  const worker = await BareWorker.start(root, temporalAddress, taskQueue);
  const connection = await Connection.connect({ address: temporalAddress });
  const client = new Client({ connection });
  try {
    if (described) await ensureSearchAttributes(connection, 'default');
    await settle(`bare ${shape}: before the phase`);
    const cpuBefore = sampleCpu({ worker: worker.pid });
    const startedAt = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      while (startedAt.size - worker.finished.size >= MAX_OPEN_EXECUTIONS) await new Promise((resolve) => setTimeout(resolve, 10));
      const transactionId = new Types.ObjectId().toHexString();
      const event = { transactionId, type: 'Transfer' as const, fromUserId: transactionId, toUserId: transactionId, amount: 1 };
      startedAt.set(transactionId, Date.now());
      await client.workflow.signalWithStart('bareTransaction', {
        workflowId: `bare-${transactionId}`,
        taskQueue,
        args: [{ transactionId, shape }],
        signal: transactionCompletedSignal,
        signalArgs: [event],
        // What the bridge starts a transfer's execution with (src/temporal/transaction-workflows.ts).
        ...(described
          ? {
              typedSearchAttributes: [
                { key: SEARCH_ATTRIBUTES.transactionId, value: transactionId },
                { key: SEARCH_ATTRIBUTES.transactionType, value: event.type },
                { key: SEARCH_ATTRIBUTES.userIds, value: [event.fromUserId, event.toUserId] },
                { key: SEARCH_ATTRIBUTES.status, value: 'Pending' },
              ],
              memo: { [TRANSACTION_MEMO_KEY]: event },
            }
          : {}),
      });
    }
    await worker.allFinished(n, FINISH_TIMEOUT_MS);
    await settle(`bare ${shape}: after the phase`);
    const cpuAfter = sampleCpu({ worker: worker.pid });
    const finishedAt = [...worker.finished.values()].sort((a, b) => a - b);
    const latencies = [...startedAt].map(([id, at]) => worker.finished.get(id)! - at).sort((a, b) => a - b);
    return {
      seconds: (finishedAt.at(-1)! - Math.min(...startedAt.values())) / 1000,
      latencies,
      finishedAt,
      peakRssMb: worker.peakRssMb,
      cpuMsPerTransfer: cpuPerTransfer(cpuBefore, cpuAfter, n),
    };
  } finally {
    await connection.close();
    await worker.stop();
  }
}

/** The bare phase's worker process, which reports each execution it finishes. */
class BareWorker {
  readonly finished = new Map<string, number>();
  private peakRss = 0;
  private readonly sampler: NodeJS.Timeout;

  private constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const [word, id, at] = line.split(' ');
      if (word === 'finalized' && id && !this.finished.has(id)) this.finished.set(id, Number(at));
    });
    this.sampler = setInterval(() => (this.peakRss = Math.max(this.peakRss, this.rssMb())), 250);
  }

  static async start(root: string, temporalAddress: string, taskQueue: string): Promise<BareWorker> {
    // The service's heap limits, as for the service under test.
    const child = spawn(
      process.execPath,
      ['--max-semi-space-size=8', '--max-old-space-size=384', path.join(root, 'dist/scripts/bench/bare/worker-process.js')],
      {
        cwd: root,
        env: { ...process.env, TEMPORAL_ADDRESS: temporalAddress, TEMPORAL_TASK_QUEUE: taskQueue },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    await new Promise<void>((resolve, reject) => {
      const ready = (chunk: Buffer) => {
        if (!chunk.toString().includes('ready\n')) return;
        child.stdout.off('data', ready);
        resolve();
      };
      child.stdout.on('data', ready);
      child.once('exit', (code) => reject(new Error(`the bare worker exited with code ${code} before it was ready`)));
    });
    return new BareWorker(child);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get peakRssMb(): number {
    return Math.max(this.peakRss, this.rssMb());
  }

  async allFinished(n: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.finished.size < n) {
      if (Date.now() > deadline)
        throw new Error(`${n - this.finished.size} of ${n} bare executions not finished within ${timeoutMs / 1000}s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.sampler);
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    await exited;
  }

  private rssMb(): number {
    try {
      return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${this.child.pid}/status`, 'utf8'))![1]) / 1024;
    } catch {
      return 0;
    }
  }
}

/** The bare-Temporal ceiling: the same Temporal server and worker options, nothing else. */
export async function bareSession(n: number, shape: BareShape = 'straight through'): Promise<Result> {
  const scenario = shape === 'straight through' ? 'bare Temporal (ceiling)' : `bare Temporal, ${shape}`;
  progress(`${scenario}: ${n} executions of the wallet's shape, started by a client`);
  const bare = await runBarePhase(ROOT, TEMPORAL_ADDRESS, n, shape);
  const result: Result = {
    scenario,
    mode: 'max',
    transfers: n,
    wallets: 0,
    seconds: round(bare.seconds),
    perSecond: round(n / bare.seconds),
    latencyMs: {
      p50: round(percentile(bare.latencies, 50)),
      p95: round(percentile(bare.latencies, 95)),
      p99: round(percentile(bare.latencies, 99)),
      max: round(bare.latencies.at(-1)!),
    },
    peakRssMb: round(bare.peakRssMb),
    perSecondByTenth: byTenth(bare.finishedAt),
    cpuMsPerTransfer: bare.cpuMsPerTransfer,
    correct: 'finished once each (no broker, no database)',
  };
  process.stderr.write(`${table([result])}\n`);
  return result;
}

/** Finishes per second in each tenth of a phase: shows whether its rate has settled. */
function byTenth(sortedTimes: number[]): number[] {
  const tenth = Math.floor(sortedTimes.length / 10);
  if (tenth < 2) return [];
  return Array.from({ length: 10 }, (_, k) => round((tenth - 1) / ((sortedTimes[(k + 1) * tenth - 1] - sortedTimes[k * tenth]) / 1000)));
}
