import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { eventually } from '../support/eventually';
import { REPO_ROOT } from '../support/tools';
import { testConfig } from '../support/wallet-service';
import { freePort } from '../support/free-port';

// The service as its own process (src/main.ts), the way `npm start` runs it.
function startMain(env: Record<string, string | undefined>): { child: ChildProcess; output: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(REPO_ROOT, 'src/main.ts')], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

describe('the service process', () => {
  it('refuses to start on a wrong setting, naming the variable', async () => {
    const { child, output } = startMain({ PORT: 'eighty', JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----' });
    const [code] = await once(child, 'exit');
    expect(code).toBe(2);
    expect(output()).toMatch(/Invalid configuration:\s+PORT: /);
  });

  it('drains and exits 0 on SIGTERM, logging JSON lines', async () => {
    const config = testConfig('process');
    const port = await freePort();
    const { child, output } = startMain({
      NODE_ENV: 'production',
      PORT: String(port),
      DATABASE_URL: config.mongo.url,
      RABBITMQ_URL: config.amqp.url,
      TEMPORAL_ADDRESS: config.temporal.address,
      TEMPORAL_TASK_QUEUE: config.temporal.taskQueue,
      JWT_PUBLIC_KEY: config.auth.publicKeyPem,
    });
    try {
      await eventually(
        'the service to be ready',
        async () => ((await fetch(`http://127.0.0.1:${port}/ready`)).status === 200 ? true : undefined),
        60_000,
        250,
      );
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = await exited;
      expect(code).toBe(0);
      const lines = output().trim().split('\n');
      const parsed = lines.map((line) => JSON.parse(line) as { msg: string; level: number });
      expect(parsed.map((entry) => entry.msg)).toEqual(expect.arrayContaining(['wallet service started', 'shutdown requested', 'stopped']));
    } finally {
      child.kill('SIGKILL');
    }
  }, 90_000);
});
