import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { openSync } from 'node:fs';
import path from 'node:path';
import { Types } from 'mongoose';
import { openStores, type Stores } from '../../src/stores';
import type { WalletService } from '../../src/service';
import { verifyChain } from '../../src/ledger/ledger-chain';
import { eventually } from '../support/eventually';
import { objectId } from '../support/ids';
import { PlatformBroker } from '../support/platform-broker';
import { REPO_ROOT } from '../support/tools';
import { dropDatabase, startTestService, testConfig } from '../support/wallet-service';

const SUITE = 'crash';

describe('a worker process killed between the debit and the credit of a transfer', () => {
  const env = { TEMPORAL_TASK_QUEUE: `wallet-test-crash-${objectId()}` };
  const config = testConfig(SUITE, env);
  let platform: PlatformBroker;
  let db: Stores;
  let child: ChildProcess | undefined;
  let successor: WalletService | undefined;

  beforeAll(async () => {
    platform = await PlatformBroker.connect();
    await platform.purgeAll();
    await dropDatabase(config.mongo.url);
    db = await openStores(config.mongo.url);
  });
  afterAll(async () => {
    child?.kill('SIGKILL');
    await successor?.stop();
    await db.close();
    await platform.close();
  });

  function startDoomedService(transactionId: string): ChildProcess {
    const log = openSync(path.join(REPO_ROOT, '.run/test/crash-after-leg.log'), 'w');
    return spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, '../support/crash-after-leg.ts')], {
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
        CRASH_TRANSACTION_ID: transactionId,
        CRASH_AFTER_LEG: 'debit',
      },
      stdio: ['ignore', 'pipe', log],
    });
  }

  /** Its log goes to stdout too: waits for the line the child writes once it consumes and works. */
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

  const entriesOf = (transactionId: string) =>
    db.ledger.entries
      .find({ transactionId: new Types.ObjectId(transactionId) })
      .sort({ createdAt: 1 })
      .lean()
      .exec();
  const balanceOf = async (userId: string) =>
    (
      await db.ledger.wallets
        .findOne({ userId: new Types.ObjectId(userId) })
        .lean()
        .exec()
    )?.balance;

  it('completes after a new worker starts, with each leg applied exactly once', async () => {
    const [sender, recipient, transactionId] = [objectId(), objectId(), objectId()];
    child = startDoomedService(transactionId);
    const exited = once(child, 'exit');
    await readyLine(child);

    platform.signup(sender);
    platform.signup(recipient);
    await eventually('both wallets', async () => ((await db.ledger.wallets.countDocuments()) === 2 ? true : undefined));
    const topUp = objectId();
    platform.topUp(topUp, sender, 1000);
    await platform.finalizationOf(topUp);

    platform.transfer(transactionId, sender, recipient, 250);
    const [code, signal] = await exited;
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGKILL' });
    expect((await entriesOf(transactionId)).map((e) => e.leg)).toEqual(['debit']);
    expect(platform.finalizationsOf(transactionId)).toEqual([]);

    successor = await startTestService(SUITE, env, undefined, { keepDatabase: true });
    expect(await platform.finalizationOf(transactionId, 60_000)).toEqual({ transactionId, status: 'Completed' });
    expect((await entriesOf(transactionId)).map((e) => [e.leg, e.userId.toHexString(), e.amount])).toEqual([
      ['debit', sender, -250],
      ['credit', recipient, 250],
    ]);
    expect([await balanceOf(sender), await balanceOf(recipient)]).toEqual([750, 250]);
    for (const user of [sender, recipient]) {
      verifyChain(
        user,
        await db.ledger.entries
          .find({ userId: new Types.ObjectId(user) })
          .sort({ version: 1 })
          .lean()
          .exec(),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(platform.finalizationsOf(transactionId)).toHaveLength(1);
  }, 120_000);
});
