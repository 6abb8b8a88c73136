import { connect, type Channel, type ChannelModel } from 'amqplib';
import type { Logger } from '../logger';
import { backoffDelayMs, sleep } from '../support/backoff';
import { BrokerChannel, type BrokerChannelOptions, type ChannelEvents } from './broker-channel';

const RECONNECT_BACKOFF = { initialMs: 250, maxMs: 10_000 };
const CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_HEARTBEAT_SECONDS = 10;
/** RabbitMQ closes a connection after two missed heartbeats (sent every half heartbeat); three heartbeats leave a margin. */
const HEARTBEATS_UNTIL_CLOSED = 3;

/** The heartbeat of a connection to `url`: its `heartbeat` parameter, else ten seconds. */
export function heartbeatSecondsOf(url: string): number {
  const requested = new URL(url).searchParams.get('heartbeat');
  return requested === null ? DEFAULT_HEARTBEAT_SECONDS : Number(requested);
}

/**
 * How long after a process stops (frozen, or its event loop stalled) the broker has closed its
 * connection: whatever it had not written by then can never be published on it.
 */
export function connectionSilencedWithinMs(url: string): number {
  return HEARTBEATS_UNTIL_CLOSED * heartbeatSecondsOf(url) * 1000;
}

/**
 * One AMQP connection that comes back by itself: after a broker restart or a network fault it
 * reconnects with backoff and opens every channel again, each with its set-up (topology, consumers).
 */
export class BrokerConnection {
  private connection: ChannelModel | undefined;
  /** Connected, and every channel opened with its set-up. */
  private ready = false;
  private readonly channels: Array<Pick<BrokerChannel<Channel>, 'attach' | 'missingConsumers'>> = [];
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private connectedWaiters: Array<() => void> = [];

  constructor(
    private readonly url: string,
    private readonly name: string,
    private readonly logger: Logger,
    private readonly events: ChannelEvents = { reopened: () => undefined },
  ) {}

  /** A channel opened on every (re)connection, in registration order, and reopened whenever the broker closes it. */
  channel<C extends Channel>(options: BrokerChannelOptions<C>): BrokerChannel<C> {
    const channel = new BrokerChannel(options, (connection) => connection === this.connection, this.events, this.logger);
    this.channels.push(channel);
    return channel;
  }

  /** Consumers of every channel missing for longer than `graceMs`. */
  missingConsumers(graceMs: number): string[] {
    return this.channels.flatMap((channel) => channel.missingConsumers(graceMs));
  }

  start(): void {
    this.loop ??= this.run();
  }

  get isConnected(): boolean {
    return this.ready;
  }

  /** Resolves once connected and set up; rejects if `signal` aborts first. */
  waitUntilConnected(signal?: AbortSignal): Promise<void> {
    if (this.isConnected) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(new Error('stopped before RabbitMQ was reachable'));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.connectedWaiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    this.stopping.abort();
    const connection = this.connection;
    this.ready = false;
    this.connection = undefined;
    await connection?.close().catch(() => undefined);
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping.signal.aborted) {
      let connection: ChannelModel | undefined;
      try {
        connection = await connect(withHeartbeat(this.url), {
          timeout: CONNECT_TIMEOUT_MS,
          clientProperties: { connection_name: this.name },
        });
        const closed = new Promise<void>((resolve) => connection!.once('close', () => resolve()));
        connection.on('error', (error: Error) => this.logger.warn({ err: error }, 'RabbitMQ connection error'));
        this.connection = connection;
        for (const channel of this.channels) await channel.attach(connection);
        if (this.stopping.signal.aborted) {
          this.connection = undefined;
          await connection.close().catch(() => undefined);
          return;
        }
        this.ready = true;
        failures = 0;
        this.logger.info({ connection: this.name }, 'RabbitMQ connected');
        this.connectedWaiters.splice(0).forEach((resolve) => resolve());
        await closed;
        this.ready = false;
        this.connection = undefined;
        if (this.stopping.signal.aborted) return;
        this.logger.warn({ connection: this.name }, 'RabbitMQ connection lost; reconnecting');
      } catch (error) {
        this.ready = false;
        this.connection = undefined;
        await connection?.close().catch(() => undefined);
        if (this.stopping.signal.aborted) return;
        failures++;
        this.logger.warn({ err: error, connection: this.name, failures }, 'RabbitMQ connection failed; retrying');
      }
      await sleep(backoffDelayMs(RECONNECT_BACKOFF, Math.max(failures, 1)), this.stopping.signal);
    }
  }
}

function withHeartbeat(url: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set('heartbeat', String(heartbeatSecondsOf(url)));
  return parsed.toString();
}
