import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SEARCH_ATTRIBUTES } from '../../../workflows/wallet-transaction/definitions';
import { BrokerControl } from '../../support/broker-control';
import { eventually } from '../../support/eventually';
import { REPO_ROOT, temporalCliPath } from '../../support/tools';

const run = promisify(execFile);

const PORTS = { amqp: 5673, mongo: 27018, temporal: 7243, postgres: 5434, http: 4013 };
const STACK_ENV = {
  STACK_NAME: 'chaos',
  STACK_AMQP_PORT: String(PORTS.amqp),
  STACK_MONGO_PORT: String(PORTS.mongo),
  STACK_TEMPORAL_PORT: String(PORTS.temporal),
  STACK_POSTGRES_PORT: String(PORTS.postgres),
  STACK_SERVICES: 'rabbitmq ferretdb',
};

/** STACK_TEMPORAL=postgres: the real Temporal server on PostgreSQL, run by scripts/stack.sh, instead of the dev server. */
const TEMPORAL_ON_POSTGRES = process.env.STACK_TEMPORAL === 'postgres';

/** The chaos Temporal server as this suite holds it: a client, and how to let go of the server. */
interface RunningTemporal {
  client: Client;
  /** Tears the dev server down; for the real server, closes the client's connection only. */
  release(): Promise<void>;
}

export type ServerName = 'rabbitmq' | 'ferretdb' | 'temporal' | 'service';
/** The wallet service runs as one replica, or two sharing the task queue and the broker's queues. */
export type Replica = 1 | 2;

/**
 * Servers the fault-injection suites own outright, on ports of their own: RabbitMQ and FerretDB
 * through scripts/stack.sh (STACK_NAME=chaos), a file-backed Temporal dev server through
 * @temporalio/testing (with STACK_TEMPORAL=postgres, the real server through scripts/stack.sh), and
 * the wallet service as a child process. Each can be crashed and restarted.
 */
export class ChaosStack {
  readonly runDir = path.join(REPO_ROOT, '.run/chaos');
  private temporal: RunningTemporal | undefined;
  private readonly services = new Map<Replica, ChildProcess>();
  private readonly stopping = new Set<ChildProcess>();
  /** Replicas that exited without being told to, with how. */
  readonly unexpectedExits: string[] = [];
  private serviceStarts = 0;
  readonly database = 'mint_wallet_chaos';
  /** The broker's operator, on this stack's RabbitMQ. */
  readonly broker = new BrokerControl(STACK_ENV.STACK_NAME);
  /** Settings of replicas started from now on, over the defaults below. */
  serviceEnv: Record<string, string> = {};

  /** Where this suite's service processes log, kept after the run (the next suite clears only its own). */
  readonly serviceLogDir: string;

  /**
   * `suite` names the service logs (`.run/chaos-services/<suite>`); `jwtPublicKey` verifies the
   * tokens of read calls, which the chaos run itself does not make.
   */
  constructor(
    suite: string,
    private readonly jwtPublicKey = '-----BEGIN PUBLIC KEY-----\nunused\n-----END PUBLIC KEY-----',
    /** RabbitMQ's consumer_timeout, kept across the broker's restarts (scripts/stack.sh). */
    private readonly rabbitmqConsumerTimeoutMs?: number,
  ) {
    this.serviceLogDir = path.join(REPO_ROOT, '.run/chaos-services', suite);
  }

  get rabbitUrl(): string {
    return `amqp://guest:guest@127.0.0.1:${PORTS.amqp}`;
  }

  get mongoUrl(): string {
    return `mongodb://127.0.0.1:${PORTS.mongo}/${this.database}`;
  }

  get temporalAddress(): string {
    return `127.0.0.1:${PORTS.temporal}`;
  }

  /** Where a replica's HTTP API listens (the first one's by default). */
  httpUrl(replica: Replica = 1): string {
    return `http://127.0.0.1:${PORTS.http + replica - 1}`;
  }

  /** Starts everything from empty state. */
  async start(): Promise<void> {
    await this.down();
    await run('rm', ['-rf', path.join(REPO_ROOT, '.data/chaos'), this.runDir, this.serviceLogDir]);
    mkdirSync(this.runDir, { recursive: true });
    mkdirSync(this.serviceLogDir, { recursive: true });
    await this.stack('up');
    await this.startTemporal();
    await this.startService();
  }

  async down(): Promise<void> {
    await Promise.all([this.stopService('SIGKILL', 1), this.stopService('SIGKILL', 2)]);
    await this.stopTemporal();
    await this.stack('down');
  }

  async crash(server: ServerName): Promise<void> {
    if (server === 'service') await this.stopService('SIGKILL');
    else if (server === 'temporal') await this.crashTemporal();
    else await this.stack('kill', server);
  }

  async restart(server: ServerName): Promise<void> {
    if (server === 'service') return this.startService();
    if (server === 'temporal') return this.startTemporal();
    await this.stack('up');
  }

  /** A client of the chaos Temporal server, while it runs. */
  get temporalClient() {
    if (!this.temporal) throw new Error('Temporal is down');
    return this.temporal.client;
  }

  async startTemporal(): Promise<void> {
    if (this.temporal) return;
    this.temporal = TEMPORAL_ON_POSTGRES ? await this.startPostgresTemporal() : await this.startDevTemporal();
  }

  async stopTemporal(): Promise<void> {
    await this.releaseTemporal();
    if (TEMPORAL_ON_POSTGRES) await this.temporalStack('stop', 'temporal');
  }

  /** The dev server is torn down; the real server gets SIGKILL. */
  private async crashTemporal(): Promise<void> {
    await this.releaseTemporal();
    if (TEMPORAL_ON_POSTGRES) await this.temporalStack('kill', 'temporal');
  }

  private async releaseTemporal(): Promise<void> {
    const temporal = this.temporal;
    this.temporal = undefined;
    await temporal?.release();
  }

  private async startDevTemporal(): Promise<RunningTemporal> {
    const environment = await TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path: temporalCliPath() },
        ip: '127.0.0.1',
        port: PORTS.temporal,
        dbFilename: path.join(REPO_ROOT, '.data/chaos/temporal.db'),
        searchAttributes: Object.values(SEARCH_ATTRIBUTES),
        // As scripts/stack.sh runs it: killed at will here, it must keep every committed write.
        extraArgs: ['--sqlite-pragma', 'journal_mode=wal', '--sqlite-pragma', 'synchronous=normal'],
        // The server's own complaints about being killed are expected here.
        log: { format: 'pretty', level: 'never' },
      },
    });
    return { client: environment.client, release: () => environment.teardown() };
  }

  /** The real server and its PostgreSQL (.data/chaos/postgres), started by scripts/stack.sh. */
  private async startPostgresTemporal(): Promise<RunningTemporal> {
    await this.temporalStack('up');
    const connection = await Connection.connect({ address: this.temporalAddress });
    return { client: new Client({ connection }), release: () => connection.close() };
  }

  /** Starts a replica of the service (src/main.ts) and waits until it answers /health. */
  async startService(replica: Replica = 1): Promise<void> {
    if (this.services.has(replica)) return;
    this.serviceStarts++;
    const log = createWriteStream(path.join(this.serviceLogDir, `service-${this.serviceStarts}-replica-${replica}.log`));
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'src/main.ts')], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'production',
        LOG_LEVEL: 'info',
        PORT: String(PORTS.http + replica - 1),
        DATABASE_URL: this.mongoUrl,
        RABBITMQ_URL: this.rabbitUrl,
        TEMPORAL_ADDRESS: this.temporalAddress,
        TEMPORAL_TASK_QUEUE: 'wallet-chaos',
        TEMPORAL_WORKFLOW_BUNDLE: process.env.WALLET_TEST_WORKFLOW_BUNDLE,
        JWT_PUBLIC_KEY: this.jwtPublicKey,
        SHUTDOWN_GRACE_SECONDS: '10',
        ...this.serviceEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    this.services.set(replica, child);
    child.once('exit', (code, signal) => {
      if (!this.stopping.has(child))
        this.unexpectedExits.push(`replica ${replica} (start ${this.serviceStarts}) exited with ${code ?? signal}`);
      if (this.services.get(replica) === child) this.services.delete(replica);
    });
    await eventually(
      `replica ${replica} of the wallet service to answer /health`,
      async () => {
        if (child.exitCode !== null) throw new Error(`the service exited with ${child.exitCode}; see ${this.serviceLogDir}`);
        return (await fetch(`${this.httpUrl(replica)}/health`)).ok ? true : undefined;
      },
      60_000,
      200,
    );
  }

  /** Stops a replica; resolves with its exit code (null when killed by a signal). */
  async stopService(signal: 'SIGTERM' | 'SIGKILL', replica: Replica = 1): Promise<number | null> {
    const child = this.services.get(replica);
    if (!child || child.exitCode !== null) return child?.exitCode ?? null;
    const exited = once(child, 'exit');
    this.stopping.add(child);
    // A frozen process takes no signal but SIGKILL until it runs again.
    child.kill('SIGCONT');
    child.kill(signal);
    const [code] = (await exited) as [number | null];
    this.services.delete(replica);
    return code;
  }

  /** Freezes a replica (SIGSTOP), as a stalled machine or a long pause does: it holds whatever it had in hand. */
  freezeService(replica: Replica): void {
    this.services.get(replica)?.kill('SIGSTOP');
  }

  thawService(replica: Replica): void {
    this.services.get(replica)?.kill('SIGCONT');
  }

  get serviceRunning(): boolean {
    return this.services.has(1);
  }

  /** How many times the service process has been started (a restart after a crash counts). */
  get serviceStartCount(): number {
    return this.serviceStarts;
  }

  /** A counter of a replica's /metrics, summed over the series whose labels include `labels`. */
  async metric(name: string, labels: Record<string, string> = {}, replica: Replica = 1): Promise<number> {
    const text = await (await fetch(`${this.httpUrl(replica)}/metrics`)).text();
    const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
    return text
      .split('\n')
      .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
      .filter((line) => wanted.every((label) => line.includes(label)))
      .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  }

  async ready(): Promise<{ status: number; body: { checks?: Record<string, string> } }> {
    const response = await fetch(`${this.httpUrl()}/ready`);
    return { status: response.status, body: (await response.json()) as { checks?: Record<string, string> } };
  }

  private async stack(...args: string[]): Promise<void> {
    const consumerTimeout = this.rabbitmqConsumerTimeoutMs;
    await runStackScript(args, consumerTimeout ? { ...STACK_ENV, STACK_RABBITMQ_CONSUMER_TIMEOUT_MS: String(consumerTimeout) } : STACK_ENV);
  }

  /** scripts/stack.sh for the Temporal server alone (STACK_TEMPORAL=postgres). */
  private async temporalStack(...args: string[]): Promise<void> {
    await runStackScript(args, { ...STACK_ENV, STACK_SERVICES: 'temporal' });
  }
}

async function runStackScript(args: string[], env: Record<string, string>): Promise<void> {
  await run('bash', [path.join(REPO_ROOT, 'scripts/stack.sh'), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env, DATABASE_URL: '', RABBITMQ_URL: '' },
  });
}
