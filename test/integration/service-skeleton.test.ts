import { connect, type ChannelModel } from 'amqplib';
import type { WalletService } from '../../src/service';
import { QUEUES } from '../../src/messaging/topology';
import { TEST_RABBITMQ_URL } from '../support/tools';
import { startTestService } from '../support/wallet-service';

describe('the running service', () => {
  let service: WalletService;
  let amqp: ChannelModel;
  const url = (path: string) => `http://127.0.0.1:${service.httpPort}${path}`;

  beforeAll(async () => {
    service = await startTestService('skeleton');
    amqp = await connect(TEST_RABBITMQ_URL);
  });
  afterAll(async () => {
    await amqp.close();
    await service.stop();
  });

  it('answers /health while the process is alive', async () => {
    const response = await fetch(url('/health'));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('answers /ready with 200 once MongoDB, RabbitMQ and Temporal all answer and each queue has its consumer', async () => {
    const response = await fetch(url('/ready'));
    expect(await response.json()).toEqual({
      status: 'ready',
      checks: {
        mongodb: 'up',
        rabbitmq: 'up',
        temporal: 'up',
        'consumer wallet.user.q': 'up',
        'consumer wallet.update.q': 'up',
        'consumer wallet.revert.q': 'up',
        'consumer wallet.finalization.echo': 'up',
        'consumer ledger entry hints': 'up',
      },
    });
    expect(response.status).toBe(200);
  });

  it('answers unknown routes with a JSON 404', async () => {
    const response = await fetch(url('/no/such/route'));
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: { message: 'Not found', status: 404 } });
  });

  /** A channel the broker may close on a failed redeclaration, as a test expects it to. */
  async function disposableChannel() {
    const channel = await amqp.createChannel();
    channel.on('error', () => undefined);
    return channel;
  }

  it('declares the platform exchanges as durable direct exchanges', async () => {
    const channel = await disposableChannel();
    await channel.assertExchange('auth.events', 'direct', { durable: true });
    await channel.assertExchange('transaction.events', 'direct', { durable: true });
    await expect(channel.assertExchange('auth.events', 'topic', { durable: true })).rejects.toThrow(/PRECONDITION_FAILED/);
  });

  it.each(Object.values(QUEUES))('declares %s durable and without arguments, as the other services do', async (queue) => {
    const channel = await disposableChannel();
    await expect(channel.assertQueue(queue, { durable: true })).resolves.toMatchObject({ queue });
    await channel.close();
    const strict = await disposableChannel();
    await expect(strict.assertQueue(queue, { durable: true, maxLength: 10 })).rejects.toThrow(/PRECONDITION_FAILED/);
  });
});
