import { Types } from 'mongoose';
import request from 'supertest';
import { objectId } from '../support/ids';
import { TokenIssuer } from '../support/token-issuer';
import { WalletHarness } from '../support/wallet-harness';
import { OpenApiValidator } from '../support/openapi-validator';

describe('the read API', () => {
  let issuer: TokenIssuer;
  let wallet: WalletHarness;
  let api: ReturnType<typeof request>;
  let openApi: OpenApiValidator;

  beforeAll(async () => {
    issuer = await TokenIssuer.create();
    await issuer.serve();
    wallet = await WalletHarness.start('read-api', { env: { JWKS_ENDPOINT: issuer.jwksUrl, JWT_PUBLIC_KEY: '' } });
    api = request(`http://127.0.0.1:${wallet.service.httpPort}`);
    openApi = new OpenApiValidator((await api.get('/openapi.json')).body);
  });
  afterAll(async () => {
    await wallet.stop();
    await issuer.stop();
  });

  const as = async (userId: string) => ({ Cookie: `access.token=${await issuer.token(userId)}` });

  /** GETs a path as a user and checks the response against the OpenAPI document. */
  async function get(path: string, userId?: string) {
    const response = await api.get(path).set(userId ? await as(userId) : {});
    openApi.expectResponseMatches('get', path, response);
    return response;
  }

  describe('GET /api/v1/wallet/user', () => {
    it("returns the caller's wallet with an integer balance in minor units", async () => {
      const user = await wallet.fundedUser(1250);
      const response = await get('/api/v1/wallet/user', user);
      expect(response.status).toBe(200);
      const stored = await wallet.service.stores.ledger.wallets
        .findOne({ userId: new Types.ObjectId(user) })
        .lean()
        .exec();
      expect(response.body).toEqual({
        id: stored!._id.toHexString(),
        userId: user,
        balance: 1250,
        createdAt: stored!.createdAt.toISOString(),
        updatedAt: stored!.updatedAt.toISOString(),
      });
    });

    it('answers 404 with a JSON error when the caller has no wallet', async () => {
      const response = await get('/api/v1/wallet/user', objectId());
      expect(response.status).toBe(404);
      expect(response.body).toEqual({ error: { message: 'Wallet not found', status: 404 } });
    });

    it('answers 401 without a token', async () => {
      const response = await get('/api/v1/wallet/user');
      expect(response.status).toBe(401);
      expect(response.body).toEqual({ error: { message: 'Unauthorized', status: 401 } });
    });

    it('shows the balance of the latest ledger entry when the wallet document lags behind it', async () => {
      const user = await wallet.fundedUser(300);
      await wallet.topUp(user, 200);
      await wallet.service.stores.ledger.wallets
        .updateOne({ userId: new Types.ObjectId(user) }, { $set: { balance: 300, version: 1 } })
        .exec();
      expect((await get('/api/v1/wallet/user', user)).body.balance).toBe(500);
    });

    it('refuses to show a balance its ledger contradicts', async () => {
      const user = await wallet.fundedUser(300);
      await wallet.service.stores.ledger.wallets.updateOne({ userId: new Types.ObjectId(user) }, { $set: { balance: 999 } }).exec();
      const response = await get('/api/v1/wallet/user', user);
      expect(response.status).toBe(500);
      expect(response.body).toEqual({ error: { message: 'Ledger inconsistency; operators have been alerted', status: 500 } });
    });
  });

  describe('GET /api/v1/wallet/user/transactions', () => {
    let alice: string;
    let bob: string;

    beforeAll(async () => {
      alice = await wallet.fundedUser(1000);
      [bob] = await wallet.signedUp(1);
      for (const amount of [100, 200, 300]) await wallet.transfer(alice, bob!, amount);
    });

    it("lists the caller's ledger entries newest first, with type, leg, signed amount and counterparty", async () => {
      const response = await get('/api/v1/wallet/user/transactions', alice);
      expect(response.status).toBe(200);
      expect(response.body.nextCursor).toBeNull();
      expect(
        response.body.items.map(
          (e: { version: number; type: string; leg: string; amount: number; balanceAfter: number; counterpartyUserId: string }) => [
            e.version,
            e.type,
            e.leg,
            e.amount,
            e.balanceAfter,
            e.counterpartyUserId,
          ],
        ),
      ).toEqual([
        [4, 'Transfer', 'debit', -300, 400, bob],
        [3, 'Transfer', 'debit', -200, 700, bob],
        [2, 'Transfer', 'debit', -100, 900, bob],
        [1, 'TopUp', 'credit', 1000, 1000, null],
      ]);
      expect(response.body.items[0].transactionId).toMatch(/^[0-9a-f]{24}$/);
    });

    it('pages with an opaque cursor until nextCursor is null', async () => {
      const versions: number[] = [];
      let cursor: string | null = null;
      do {
        const path: string = `/api/v1/wallet/user/transactions?limit=3${cursor ? `&cursor=${cursor}` : ''}`;
        const response = await get(path, alice);
        versions.push(...response.body.items.map((e: { version: number }) => e.version));
        cursor = response.body.nextCursor;
      } while (cursor);
      expect(versions).toEqual([4, 3, 2, 1]);
    });

    it('keeps the pages stable while new entries arrive', async () => {
      const user = await wallet.fundedUser(50);
      await wallet.topUp(user, 10);
      await wallet.topUp(user, 20);
      const first = await get('/api/v1/wallet/user/transactions?limit=2', user);
      await wallet.topUp(user, 30);
      const second = await get(`/api/v1/wallet/user/transactions?limit=2&cursor=${first.body.nextCursor}`, user);
      expect(first.body.items.map((e: { version: number }) => e.version)).toEqual([3, 2]);
      expect(second.body.items.map((e: { version: number }) => e.version)).toEqual([1]);
      expect(second.body.nextCursor).toBeNull();
    });

    it('defaults to 20 entries a page', async () => {
      const user = await wallet.fundedUser(1);
      await Promise.all(Array.from({ length: 21 }, () => wallet.topUp(user, 1)));
      const response = await get('/api/v1/wallet/user/transactions', user);
      expect(response.body.items).toHaveLength(20);
      expect(response.body.nextCursor).toEqual(expect.any(String));
    });

    it.each([
      ['limit=0', /limit must be an integer from 1 to 100/],
      ['limit=101', /limit must be an integer from 1 to 100/],
      ['limit=abc', /limit must be an integer from 1 to 100/],
      ['limit=1.5', /limit must be an integer from 1 to 100/],
      ['limit=-1', /limit must be an integer from 1 to 100/],
      ['limit=1&limit=2', /limit must be given once/],
      ['cursor=%%%', /cursor is invalid/],
      ['cursor=bm90LWpzb24', /cursor is invalid/],
      [`cursor=${Buffer.from('{"v":1}').toString('base64url')}`, /cursor is invalid/],
      [`cursor=${'a'.repeat(200)}`, /cursor is invalid/],
    ])('answers 400 with a message for %s', async (query, message) => {
      const response = await get(`/api/v1/wallet/user/transactions?${query}`, alice);
      expect(response.status).toBe(400);
      expect(response.body.error.message).toMatch(message);
    });
  });

  describe("another user's data", () => {
    it('cannot be reached through any place a client controls', async () => {
      const mallory = await wallet.fundedUser(5);
      const victim = await wallet.fundedUser(777);
      const headers = await as(mallory);
      const attempts = [
        api.get(`/api/v1/wallet/user?userId=${victim}`).set(headers),
        api.get(`/api/v1/wallet/user?user.id=${victim}&id=${victim}`).set(headers),
        api.get('/api/v1/wallet/user').set({ ...headers, 'X-User-Id': victim }),
        api.get('/api/v1/wallet/user').set(headers).send({ userId: victim }),
        api.get(`/api/v1/wallet/user/transactions?userId=${victim}`).set(headers),
      ];
      for (const response of await Promise.all(attempts)) {
        expect(response.status).toBe(200);
        expect(JSON.stringify(response.body)).not.toContain(victim);
      }
      for (const path of [`/api/v1/wallet/user/${victim}`, `/api/v1/wallet/${victim}`, `/api/v1/wallet/user/transactions/${victim}`]) {
        const response = await api.get(path).set(headers);
        expect(response.status).toBe(404);
        expect(JSON.stringify(response.body)).not.toContain('777');
      }
      const bothTokens = await api
        .get('/api/v1/wallet/user')
        .set('Authorization', `Bearer ${await issuer.token(mallory)}`)
        .set('Cookie', `access.token=${await issuer.token(victim)}`);
      expect(bothTokens.body.userId).toBe(mallory);
    });
  });

  describe('GET /health, /ready, /metrics', () => {
    it('report liveness and readiness in the documented shapes', async () => {
      expect((await get('/health')).body).toEqual({ status: 'ok' });
      expect((await get('/ready')).status).toBe(200);
    });

    it('exposes process, HTTP, bridge, ledger and workflow outcome metrics', async () => {
      const response = await api.get('/metrics');
      expect(response.status).toBe(200);
      for (const name of [
        'process_cpu_user_seconds_total',
        'wallet_http_request_duration_seconds_count{method="GET",route="/api/v1/wallet/user",status="200"}',
        'wallet_messages_consumed_total{queue="wallet.update.q",outcome="accepted"}',
        'wallet_dead_lettered_total',
        'wallet_bridge_retries_total',
        'wallet_ledger_version_conflicts_total',
        'wallet_finalizations_published_total{status="Completed"}',
      ]) {
        expect(response.text).toContain(name);
      }
    });
  });
});
