// The wallet service as the benchmark runs it: the compiled service in a process of its own, with
// the heap limits of `npm start`, its memory sampled from /proc while it runs.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface ServiceEnvironment {
  root: string;
  databaseUrl: string;
  rabbitmqUrl: string;
  temporalAddress: string;
  /** Names the task queue and the log file. */
  database: string;
  /** Each wallet is funded by one top-up of this, far over the platform's limit for one. */
  topUpMaxAmount: number;
  /** Settings a scenario adds or overrides (a real verification key, for one that reads the API). */
  env?: Record<string, string>;
}

/** Where the service under test serves its API and /metrics. */
const SERVICE_PORT = 4099;

/** What a scenario is given to start its service: everything but its database, which it names itself. */
export type ScenarioEnvironment = Omit<ServiceEnvironment, 'database' | 'databaseUrl'> & { databaseUrlOf: (database: string) => string };

/** The service under test, its memory sampled from /proc while it runs. */
export class ServiceProcess {
  private peakRss = 0;
  private sampler: NodeJS.Timeout | undefined;
  private constructor(private readonly child: ChildProcess) {}

  static async start(environment: ServiceEnvironment, noopLedger: boolean): Promise<ServiceProcess> {
    const { root, database } = environment;
    // The compiled service, as production runs it (npm run build), not through a TypeScript loader.
    // With the heap limits `npm start` and the Dockerfile use (see docs/performance.md).
    // BENCH_SERVICE_NODE_FLAGS adds Node flags to it, for a look inside (--trace-gc, --cpu-prof).
    const extraFlags = process.env.BENCH_SERVICE_NODE_FLAGS?.split(' ').filter(Boolean) ?? [];
    const flags = ['--max-semi-space-size=8', '--max-old-space-size=384', ...extraFlags];
    const child = spawn(process.execPath, [...flags, path.join(root, 'dist/scripts/bench/service-under-test.js')], {
      cwd: root,
      env: {
        ...process.env,
        NODE_ENV: 'production',
        LOG_LEVEL: 'warn',
        PORT: String(SERVICE_PORT),
        DATABASE_URL: environment.databaseUrl,
        RABBITMQ_URL: environment.rabbitmqUrl,
        TEMPORAL_ADDRESS: environment.temporalAddress,
        TEMPORAL_TASK_QUEUE: `wallet-bench-${database}`,
        // The schedule is shared with `npm run dev` on this Temporal server: leave it on dev's queue.
        RECONCILIATION_INTERVAL_MINUTES: '0',
        VERIFICATION_INTERVAL_HOURS: '0',
        TOP_UP_MAX_AMOUNT: String(environment.topUpMaxAmount),
        TEMPORAL_WORKFLOW_BUNDLE: path.join(root, 'dist/workflow-bundle.js'),
        JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nunused\n-----END PUBLIC KEY-----',
        BENCH_NOOP_LEDGER: noopLedger ? '1' : '0',
        ...environment.env,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    // Its log, for a run that needs explaining: .run/bench/<database>.log.
    mkdirSync(path.join(root, '.run/bench'), { recursive: true });
    child.stdout.pipe(createWriteStream(path.join(root, '.run/bench', `${database}.log`)));
    await new Promise<void>((resolve, reject) => {
      const ready = (chunk: Buffer) => {
        if (!chunk.toString().includes('ready\n')) return;
        child.stdout.off('data', ready);
        resolve();
      };
      child.stdout.on('data', ready);
      child.once('exit', (code) => reject(new Error(`the service under test exited with code ${code} before it was ready`)));
    });
    const service = new ServiceProcess(child);
    service.sampler = setInterval(() => (service.peakRss = Math.max(service.peakRss, service.rssMb())), 250);
    return service;
  }

  get port(): number {
    return SERVICE_PORT;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  rssMb(): number {
    const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
  }

  get peakRssMb(): number {
    return Math.max(this.peakRss, this.rssMb());
  }

  resetPeak(): void {
    this.peakRss = this.rssMb();
  }

  async stop(): Promise<void> {
    clearInterval(this.sampler);
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    await exited;
  }
}
