import { existsSync } from 'node:fs';
import { Types } from 'mongoose';
import { chromium, type Browser, type Page } from 'playwright-core';
import { Ledger } from '../../src/ledger';
import { createLogger } from '../../src/logger';
import { BrokerConnection } from '../../src/messaging/broker-connection';
import { HINTS_PER_MESSAGE, LedgerEntryHints, type LedgerEntryHint } from '../../src/messaging/ledger-entry-hints';
import { createMetrics } from '../../src/metrics';
import type { WalletService } from '../../src/service';
import { openStores, type Stores } from '../../src/stores';
import { eventually, throughout } from '../support/eventually';
import { objectId } from '../support/ids';
import { SseClient } from '../support/sse-client';
import { TokenIssuer } from '../support/token-issuer';
import { TEST_RABBITMQ_URL } from '../support/tools';
import { WalletHarness } from '../support/wallet-harness';
import { startTestService, testConfig } from '../support/wallet-service';
import { freePort } from '../support/free-port';
import { shown } from '../support/shown-entry';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SUITE = 'live-updates';

describe('live balance updates (Server-Sent Events)', () => {
  let issuer: TokenIssuer;
  let wallet: WalletHarness;
  let env: Record<string, string>;

  beforeAll(async () => {
    issuer = await TokenIssuer.create();
    await issuer.serve();
    env = {
      JWKS_ENDPOINT: issuer.jwksUrl,
      JWT_PUBLIC_KEY: '',
      // The slow catch-up read is pushed out of the specs' reach: entries must come by their hints.
      LIVE_UPDATES_CATCH_UP_SECONDS: '600',
      LIVE_UPDATES_HEARTBEAT_SECONDS: '1',
      LIVE_UPDATES_RETRY_MS: '200',
      LIVE_UPDATES_MAX_CONNECTIONS_PER_USER: '2',
      JWT_CLOCK_TOLERANCE_SECONDS: '1',
    };
    wallet = await WalletHarness.start(SUITE, { env });
  });
  afterAll(async () => {
    await wallet.stop();
    await issuer.stop();
  });

  const eventsUrl = (service: WalletService, query = '') => `http://127.0.0.1:${service.httpPort}/api/v1/wallet/user/events${query}`;
  const bearer = async (userId: string) => ({ Authorization: `Bearer ${await issuer.token(userId)}` });

  describe('over HTTP', () => {
    let clients: SseClient[] = [];
    const open = async (userId: string, headers: Record<string, string> = {}, query = '') => {
      const client = await SseClient.open(eventsUrl(wallet.service, query), { ...(await bearer(userId)), ...headers });
      clients.push(client);
      return client;
    };
    afterEach(() => {
      clients.forEach((client) => client.close());
      clients = [];
    });

    it('starts with the latest entry, then sends each new entry once, as the history shows it, with its version as id', async () => {
      const alice = await wallet.fundedUser(1000);
      const [bob] = await wallet.signedUp(1);
      const stream = await open(alice);
      expect(stream.status).toBe(200);
      await stream.waitForEvents(1);
      for (const amount of [10, 20]) await wallet.transfer(alice, bob, amount);
      const events = await stream.waitForEvents(3);
      const ledger = await wallet.ledgerOf(alice);
      expect(events.map((e) => e.event)).toEqual(['entry', 'entry', 'entry']);
      expect(events.map((e) => e.id)).toEqual(['1', '2', '3']);
      expect(events.map((e) => JSON.parse(e.data))).toEqual(ledger.map(shown));
    });

    it('resumes after Last-Event-ID with exactly the entries missed, in order, before the live ones', async () => {
      const alice = await wallet.fundedUser(1000);
      const [bob] = await wallet.signedUp(1);
      const first = await open(alice);
      await first.waitForEvents(1);
      first.close();
      for (const amount of [10, 20, 30]) await wallet.transfer(alice, bob, amount);
      const resumed = await open(alice, { 'Last-Event-ID': '1' });
      await resumed.waitForEvents(3);
      await wallet.transfer(alice, bob, 40);
      const events = await resumed.waitForEvents(4);
      await throughout(500, () => expect(resumed.events.map((e) => e.id)).toEqual(['2', '3', '4', '5']));
      expect(events.map((e) => JSON.parse(e.data))).toEqual((await wallet.ledgerOf(alice)).slice(1).map(shown));
      const byQuery = await open(alice, {}, '?lastEventId=3');
      expect((await byQuery.waitForEvents(2)).map((e) => e.id)).toEqual(['4', '5']);
    });

    it('ends a stream once the token it was opened with expires: the browser comes back with the token it holds then', async () => {
      const alice = await wallet.fundedUser(1000);
      const expiresAt = Math.floor(Date.now() / 1000) + 2;
      const stream = await SseClient.open(eventsUrl(wallet.service), {
        Authorization: `Bearer ${await issuer.token(alice, { expiresIn: expiresAt })}`,
      });
      clients.push(stream);
      await stream.waitForEvents(1);
      await eventually('the stream to end', async () => (stream.ended ? true : undefined));
      // Not before the token's expiry and the clock tolerance (1 s here) have passed.
      expect(Date.now()).toBeGreaterThanOrEqual((expiresAt + 1) * 1000);
    });

    it('ends the stream, sending nothing from it on, at an entry rewritten since it was chained', async () => {
      const alice = await wallet.fundedUser(1000);
      const [bob] = await wallet.signedUp(1);
      for (const amount of [10, 20]) await wallet.transfer(alice, bob, amount);
      // Its arithmetic still holds: only its hash, sealed over every field, shows the rewrite.
      await wallet.service.stores.ledger.entryCollection.updateOne(
        { _id: `${alice}:2` },
        { $set: { counterpartyUserId: new Types.ObjectId() } },
      );
      const resumed = await open(alice, { 'Last-Event-ID': '1' });
      expect(resumed.status).toBe(200);
      await eventually('the stream to end', async () => (resumed.ended ? true : undefined));
      expect(resumed.events.filter((e) => e.event === 'entry')).toEqual([]);
    });

    it('gets the entries another replica writes, by their hints through the broker', async () => {
      const alice = await wallet.fundedUser(100);
      const stream = await open(alice);
      await stream.waitForEvents(1);
      const otherReplica = await WriterReplica.start();
      try {
        await otherReplica.ledger.applyLeg({
          transactionId: objectId(),
          transactionType: 'TopUp',
          leg: 'credit',
          userId: alice,
          amount: 5,
        });
        await otherReplica.ledger.applyLeg({
          transactionId: objectId(),
          transactionType: 'TopUp',
          leg: 'credit',
          userId: alice,
          amount: 7,
        });
        const events = await stream.waitForEvents(3);
        expect(events.map((e) => JSON.parse(e.data))).toEqual((await wallet.ledgerOf(alice)).map(shown));
      } finally {
        await otherReplica.stop();
      }
    });

    it('hears hints only while someone follows a wallet on this replica', async () => {
      const received = async () =>
        (await wallet.service.metrics.ledgerEntryHints.get()).values.find((value) => value.labels.outcome === 'received')?.value ?? 0;
      const connections = async () => (await wallet.service.metrics.liveUpdateConnections.get()).values[0]?.value ?? 0;
      const credit = (ledger: Ledger, userId: string, amount: number) =>
        ledger.applyLeg({ transactionId: objectId(), transactionType: 'TopUp', leg: 'credit', userId, amount });
      const alice = await wallet.fundedUser(100);
      await eventually('no live-update connection left open', async () => ((await connections()) === 0 ? true : undefined));
      const otherReplica = await WriterReplica.start();
      try {
        const before = await received();
        await credit(otherReplica.ledger, alice, 5);
        await throughout(1_000, async () => expect(await received()).toBe(before));

        const stream = await open(alice);
        await stream.waitForEvents(1);
        await credit(otherReplica.ledger, alice, 7);
        await stream.waitForEvents(2);
        expect(await received()).toBeGreaterThan(before);

        stream.close();
        await eventually('the stream closed on the server', async () => ((await connections()) === 0 ? true : undefined));
        const afterClose = await received();
        await credit(otherReplica.ledger, alice, 9);
        await throughout(1_000, async () => expect(await received()).toBe(afterClose));
      } finally {
        await otherReplica.stop();
      }
    });

    it('sends heartbeat comments while idle', async () => {
      const stream = await open(await wallet.fundedUser(1));
      await eventually('two heartbeats', () => (stream.comments.filter((c) => c === 'heartbeat').length >= 2 ? true : undefined));
    });

    it('answers 503 past the connections allowed per user, and has room again once one closes', async () => {
      const user = await wallet.fundedUser(1);
      const [one] = [await open(user), await open(user)];
      const third = await open(user);
      expect(third.status).toBe(503);
      expect(third.body).toEqual({ error: { message: 'At most 2 live-update connections per user', status: 503 } });
      one.close();
      await eventually('room for a connection', async () => ((await open(user)).status === 200 ? true : undefined));
    });

    it('answers 400 for a Last-Event-ID that is not a version of the wallet, 401 without a token, 404 without a wallet', async () => {
      const user = await wallet.fundedUser(1);
      const beyond = await open(user, { 'Last-Event-ID': '99' });
      expect(beyond.status).toBe(400);
      expect(beyond.body).toEqual({ error: { message: "Last-Event-ID 99 is not a version of this wallet's ledger", status: 400 } });
      expect((await open(user, { 'Last-Event-ID': 'x1' })).status).toBe(400);
      expect((await open(objectId())).status).toBe(404);
      expect((await fetch(eventsUrl(wallet.service))).status).toBe(401);
    });
  });

  (existsSync(CHROMIUM) ? describe : describe.skip)('in a browser (EventSource in headless Chromium)', () => {
    let browser: Browser;

    beforeAll(async () => {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-sync'],
      });
    });
    afterAll(async () => {
      await browser?.close();
    });

    /** A page of the API's origin, served by the test, whose EventSource records every entry it receives. */
    async function pageFollowing(origin: string, userId: string): Promise<Page> {
      const context = await browser.newContext();
      await context.addCookies([{ name: 'access.token', value: await issuer.token(userId), url: origin, httpOnly: true }]);
      const page = await context.newPage();
      await page.route(`${origin}/live-updates-page`, (route) =>
        route.fulfill({
          contentType: 'text/html',
          body: `<!doctype html><script>
            window.received = [];
            const source = new EventSource('/api/v1/wallet/user/events');
            source.addEventListener('entry', (e) => window.received.push({ id: e.lastEventId, entry: JSON.parse(e.data) }));
          </script>`,
        }),
      );
      await page.goto(`${origin}/live-updates-page`);
      return page;
    }
    const received = (page: Page) =>
      page.evaluate(() => (globalThis as unknown as { received: Array<{ id: string; entry: unknown }> }).received);
    const receivedCount = (page: Page, count: number) =>
      eventually(`${count} entries in the page`, async () => ((await received(page)).length >= count ? true : undefined), 20_000);

    it('sees each entry of transfers made through the broker arrive', async () => {
      const alice = await wallet.fundedUser(1000);
      const [bob] = await wallet.signedUp(1);
      const page = await pageFollowing(`http://127.0.0.1:${wallet.service.httpPort}`, alice);
      await receivedCount(page, 1);
      for (const amount of [11, 22, 33]) await wallet.transfer(alice, bob, amount);
      await receivedCount(page, 4);
      const ledger = await wallet.ledgerOf(alice);
      expect(await received(page)).toEqual(ledger.map((entry) => ({ id: String(entry.version), entry: shown(entry) })));
      await page.context().close();
    });

    it('reconnects by itself after its replica shut down, with Last-Event-ID, and gets exactly the entries it missed', async () => {
      const port = await freePort();
      const replicaEnv = { ...env, PORT: String(port) };
      let replica = await startTestService(SUITE, replicaEnv, undefined, { keepDatabase: true });
      const alice = await wallet.fundedUser(1000);
      const [bob] = await wallet.signedUp(1);
      const page = await pageFollowing(`http://127.0.0.1:${port}`, alice);
      try {
        await receivedCount(page, 1);
        // SIGTERM's stop: the replica ends its streams; meanwhile the other replica applies the transfers.
        await replica.stop();
        for (const amount of [5, 6]) await wallet.transfer(alice, bob, amount);
        replica = await startTestService(SUITE, replicaEnv, undefined, { keepDatabase: true });
        await receivedCount(page, 3);
        const ledger = await wallet.ledgerOf(alice);
        await throughout(500, async () =>
          expect(await received(page)).toEqual(ledger.map((entry) => ({ id: String(entry.version), entry: shown(entry) }))),
        );
      } finally {
        await page.context().close();
        await replica.stop();
      }
    });
  });

  describe('hints between replicas', () => {
    /** One replica's hints on a connection of its own, with every hint it hears recorded. */
    async function replicaHints(name: string) {
      const logger = createLogger('silent');
      const metrics = createMetrics();
      const heard: LedgerEntryHint[] = [];
      let hearing = false;
      const broker = new BrokerConnection(TEST_RABBITMQ_URL, name, logger);
      const hints = new LedgerEntryHints(
        broker,
        1_000,
        { heard: (hint) => heard.push(hint), hearing: () => (hearing = true) },
        metrics,
        logger,
      );
      broker.start();
      await broker.waitUntilConnected();
      const messagesSent = async () => (await metrics.ledgerEntryHintMessages.get()).values[0]?.value ?? 0;
      return { hints, heard, messagesSent, isHearing: () => hearing, close: () => broker.close() };
    }
    type ReplicaHints = Awaited<ReturnType<typeof replicaHints>>;

    /**
     * Once the follower listens and a probe from the writer reached it. A probe is sent only while
     * none was heard, a wait apart, so every probe has gone out (or been dropped) on return.
     */
    async function hintsFlowing(writer: ReplicaHints, follower: ReplicaHints): Promise<void> {
      follower.hints.listen(true);
      await eventually('the follower hearing hints', () => (follower.isHearing() ? true : undefined));
      const probes = new Set<string>();
      await eventually('a probe from the writer heard', () => {
        if (follower.heard.some((hint) => probes.has(hint.userId))) return true;
        const probe = objectId();
        probes.add(probe);
        writer.hints.publish({ userId: probe, version: 1 });
        return undefined;
      });
    }

    it('sends the hints given together in one message, each wallet once at its highest version', async () => {
      const [writer, follower] = [await replicaHints('test-hint-writer'), await replicaHints('test-hint-follower')];
      try {
        await hintsFlowing(writer, follower);
        const sentBefore = await writer.messagesSent();
        const [alice, bob] = [objectId(), objectId()];
        writer.hints.publish({ userId: alice, version: 4 });
        writer.hints.publish({ userId: bob, version: 2 });
        writer.hints.publish({ userId: alice, version: 5 });
        writer.hints.publish({ userId: alice, version: 3 });
        const heard = () => follower.heard.filter((hint) => hint.userId === alice || hint.userId === bob);
        await eventually('the hints heard', () => (heard().length >= 2 ? true : undefined));
        await throughout(300, () => {
          expect(heard()).toEqual([
            { userId: alice, version: 5 },
            { userId: bob, version: 2 },
          ]);
        });
        expect((await writer.messagesSent()) - sentBefore).toBe(1);
      } finally {
        await writer.close();
        await follower.close();
      }
    });

    it(`sends the hints waiting at once when ${HINTS_PER_MESSAGE} wallets have some, so no message carries more`, async () => {
      const [writer, follower] = [await replicaHints('test-hint-writer'), await replicaHints('test-hint-follower')];
      try {
        await hintsFlowing(writer, follower);
        const sentBefore = await writer.messagesSent();
        const wallets = Array.from({ length: HINTS_PER_MESSAGE + 1 }, () => objectId());
        for (const userId of wallets) writer.hints.publish({ userId, version: 1 });
        // The first HINTS_PER_MESSAGE went as soon as there were that many; the last waits for its window.
        expect((await writer.messagesSent()) - sentBefore).toBe(1);
        await eventually('the last hint sent', async () => ((await writer.messagesSent()) - sentBefore === 2 ? true : undefined));
        await eventually('every hint heard', () => {
          const heardWallets = new Set(follower.heard.map((hint) => hint.userId));
          return wallets.every((userId) => heardWallets.has(userId)) ? true : undefined;
        });
      } finally {
        await writer.close();
        await follower.close();
      }
    });
  });
});

/** Another replica's ledger: it writes entries and hints them, with no HTTP of its own. */
class WriterReplica {
  private constructor(
    readonly ledger: Ledger,
    private readonly stores: Stores,
    private readonly broker: BrokerConnection,
  ) {}

  static async start(): Promise<WriterReplica> {
    const logger = createLogger('silent');
    const metrics = createMetrics();
    const broker = new BrokerConnection(TEST_RABBITMQ_URL, 'test-writer-replica', logger);
    const hints = new LedgerEntryHints(broker, 100, { heard: () => undefined, hearing: () => undefined }, metrics, logger);
    broker.start();
    await broker.waitUntilConnected();
    const stores = await openStores(testConfig(SUITE).mongo.url);
    return new WriterReplica(new Ledger(stores.ledger, metrics, 0, (hint) => hints.publish(hint)), stores, broker);
  }

  async stop(): Promise<void> {
    await this.broker.close();
    await this.stores.close();
  }
}
