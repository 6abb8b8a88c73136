import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Debian's rabbitmqctl itself (its wrapper in /usr/sbin switches to the rabbitmq user, whose Erlang cookie differs). */
const RABBITMQCTL = '/usr/lib/rabbitmq/bin/rabbitmqctl';

/**
 * What the broker's operator can do to a RabbitMQ of the local stack (scripts/stack.sh names its
 * node `wallet-<STACK_NAME>@localhost`): the faults the broker itself causes, on purpose.
 */
export class BrokerControl {
  constructor(private readonly stackName = process.env.STACK_NAME ?? 'stack') {}

  async rabbitmqctl(...args: string[]): Promise<string> {
    const { stdout } = await run(RABBITMQCTL, ['-n', `wallet-${this.stackName}@localhost`, ...args], {
      env: { ...process.env, HOME: process.env.HOME ?? '/root' },
    });
    return stdout;
  }

  /**
   * Makes the broker close every channel of the connections named `connectionName`, keeping the
   * connections: each gets an ack of a delivery tag it never sent, a channel-level error (406) on
   * which RabbitMQ closes the channel. Returns how many channels it closed.
   */
  async closeChannelsOf(connectionName: string): Promise<number> {
    const name = connectionName.replace(/[^\w.-]/g, '');
    const closed = await this.rabbitmqctl(
      'eval',
      `length([rabbit_channel:do(Ch, {'basic.ack', 987654321, false}) || Ch <- rabbit_channel:list(),
        begin
          {connection, C} = lists:keyfind(connection, 1, rabbit_channel:info(Ch, [connection])),
          [{client_properties, Props}] = rabbit_networking:connection_info(C, [client_properties]),
          lists:member({<<"connection_name">>, longstr, <<"${name}">>}, Props)
        end]).`,
    );
    return Number(closed.trim());
  }

  /**
   * Sets the broker's `consumer_timeout` and how often a channel checks it, for channels opened from
   * now on; without arguments, RabbitMQ's defaults again (30 minutes, checked every minute).
   */
  async setConsumerTimeout(timeoutMs?: number, checkEveryMs?: number): Promise<void> {
    const set = (key: string, value: number) => this.rabbitmqctl('eval', `application:set_env(rabbit, ${key}, ${value}).`);
    await set('consumer_timeout', timeoutMs ?? 1_800_000);
    await set('channel_tick_interval', checkEveryMs ?? 60_000);
  }

  /** Consumers per queue, as `rabbitmqctl list_consumers` shows them. */
  async consumersByQueue(): Promise<Map<string, number>> {
    const out = await this.rabbitmqctl('list_consumers', '--quiet', '--no-table-headers', 'queue_name');
    const counts = new Map<string, number>();
    for (const queue of out
      .split('\n')
      .map((line) => line.trim())
      .filter(Boolean))
      counts.set(queue, (counts.get(queue) ?? 0) + 1);
    return counts;
  }

  /** Grants or takes away the `guest` user's rights on the default vhost: without them every channel operation is refused. */
  async setGuestPermissions(allowed: boolean): Promise<void> {
    const rights = allowed ? '.*' : '^$';
    await this.rabbitmqctl('set_permissions', '-p', '/', 'guest', rights, rights, rights);
  }
}
