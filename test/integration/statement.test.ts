import request from 'supertest';
import { Types } from 'mongoose';
import { type LedgerEntryDocument, GENESIS_HASH } from '../../src/ledger';
import { objectId } from '../support/ids';
import { OpenApiValidator } from '../support/openapi-validator';
import { TokenIssuer } from '../support/token-issuer';
import { WalletHarness } from '../support/wallet-harness';
import { shown } from '../support/shown-entry';

describe('statements and balances at a moment', () => {
  let issuer: TokenIssuer;
  let wallet: WalletHarness;
  let api: ReturnType<typeof request>;
  let openApi: OpenApiValidator;
  let alice: string;
  let bob: string;
  /** Alice's ledger: v1 top-up 1000, then v2..v4 transfers of 100, 200, 300 to Bob. */
  let ledger: LedgerEntryDocument[];

  beforeAll(async () => {
    issuer = await TokenIssuer.create();
    await issuer.serve();
    wallet = await WalletHarness.start('statement', { env: { JWKS_ENDPOINT: issuer.jwksUrl, JWT_PUBLIC_KEY: '' } });
    api = request(`http://127.0.0.1:${wallet.service.httpPort}`);
    openApi = new OpenApiValidator((await api.get('/openapi.json')).body);
    alice = await wallet.fundedUser(1000);
    [bob] = await wallet.signedUp(1);
    for (const amount of [100, 200, 300]) await wallet.transfer(alice, bob, amount);
    ledger = await wallet.ledgerOf(alice);
  });
  afterAll(async () => {
    await wallet.stop();
    await issuer.stop();
  });

  async function get(path: string, userId?: string) {
    const response = await api.get(path).set(userId ? { Cookie: `access.token=${await issuer.token(userId)}` } : {});
    openApi.expectResponseMatches('get', path, response);
    return response;
  }
  /** An entry as a statement shows it: with its chain hash. */
  const withHash = (entry: LedgerEntryDocument) => ({ ...shown(entry), hash: entry.hash });
  /** A range of 300 days that holds every entry of the suite. */
  const everything = (): [Date, Date] => [new Date(Date.now() - 300 * 86_400_000), new Date(Date.now() + 86_400_000)];
  const statementPath = (from: Date | string, to: Date | string, format?: string) =>
    `/api/v1/wallet/user/statement?from=${encodeURIComponent(String(from instanceof Date ? from.toISOString() : from))}` +
    `&to=${encodeURIComponent(String(to instanceof Date ? to.toISOString() : to))}${format ? `&format=${format}` : ''}`;

  describe('GET /api/v1/wallet/user/statement', () => {
    it('lists the entries with from <= time < to, oldest first, between the opening and closing balances the ledger records', async () => {
      const [first, second, third, fourth] = ledger;
      const response = await get(statementPath(second.createdAt, fourth.createdAt), alice);
      expect(response.status).toBe(200);
      expect(response.body).toEqual({
        userId: alice,
        from: second.createdAt.toISOString(),
        to: fourth.createdAt.toISOString(),
        opening: { balance: first.balanceAfter, version: first.version, hash: first.hash },
        entries: [second, third].map(withHash),
        totals: { credits: 0, debits: second.amount + third.amount, entries: 2 },
        closing: { balance: third.balanceAfter, version: third.version, hash: third.hash },
      });
    });

    it('adds up: opening + credits + debits = closing, over the whole ledger', async () => {
      const response = await get(statementPath(...everything()), alice);
      const { opening, totals, closing, entries } = response.body;
      expect(entries).toEqual(ledger.map(withHash));
      expect(opening).toEqual({ balance: 0, version: 0, hash: GENESIS_HASH });
      expect(totals).toEqual({ credits: 1000, debits: -600, entries: 4 });
      expect(opening.balance + totals.credits + totals.debits).toBe(closing.balance);
      expect(closing).toEqual({ balance: ledger[3].balanceAfter, version: 4, hash: ledger[3].hash });
    });

    it('is empty, opening and closing on the same balance, for a range without entries', async () => {
      const after = new Date(ledger[3].createdAt.getTime() + 1);
      const response = await get(statementPath(after, new Date(after.getTime() + 60_000)), alice);
      expect(response.body).toMatchObject({
        entries: [],
        totals: { credits: 0, debits: 0, entries: 0 },
        opening: { balance: 400, version: 4, hash: ledger[3].hash },
        closing: { balance: 400, version: 4, hash: ledger[3].hash },
      });
    });

    it("shows the caller's own side of a transfer only", async () => {
      const response = await get(statementPath(...everything()), bob);
      expect(response.body.entries).toEqual((await wallet.ledgerOf(bob)).map(withHash));
      expect(JSON.stringify(response.body)).not.toContain('"debit"');
    });

    it('streams CSV (RFC 4180) as an attachment named after the range, one row per entry', async () => {
      const [from, to] = everything();
      const response = await get(statementPath(from, to, 'csv'), alice);
      expect(response.status).toBe(200);
      expect(response.headers['content-type']).toMatch(/^text\/csv/);
      expect(response.headers['content-disposition']).toBe(
        `attachment; filename="wallet-statement-${from.toISOString()}-${to.toISOString()}.csv"`,
      );
      const rows = ledger.map((e) =>
        [
          e.createdAt.toISOString(),
          e.transactionId!.toHexString(),
          e.transactionType,
          e.leg,
          e.amount,
          e.balanceAfter,
          e.counterpartyUserId?.toHexString() ?? '',
          e.version,
          e.hash,
        ].join(','),
      );
      expect(response.text).toBe(
        ['time,transactionId,type,leg,amount,balanceAfter,counterpartyUserId,version,hash', ...rows, ''].join('\r\n'),
      );
    });

    it.each([
      ['from=yesterday&to=2026-01-02', /from must be an ISO-8601 date/],
      ['from=2026-02-30&to=2026-03-02', /from must be an ISO-8601 date/],
      ['from=2026-01-01T10:00:00&to=2026-03-02', /from must be an ISO-8601 date .* or date-time with a zone/],
      ['from=2026-01-01&to=2026-13-01', /to must be an ISO-8601 date/],
      ['from=2026-01-01', /from and to are required/],
      ['from=2026-01-02&to=2026-01-02', /to must be later than from/],
      ['from=2026-01-03&to=2026-01-02', /to must be later than from/],
      ['from=2025-01-01&to=2026-01-03', /must not exceed 366 days/],
      ['from=2026-01-01&to=2026-01-02&format=xml', /format must be json or csv/],
      ['from=2026-01-01&from=2026-01-02&to=2026-01-03', /from must be given once/],
    ])('answers 400 saying why for %s', async (query, message) => {
      const response = await get(`/api/v1/wallet/user/statement?${query}`, alice);
      expect(response.status).toBe(400);
      expect(response.body).toEqual({ error: { message: expect.stringMatching(message), status: 400 } });
    });

    it('accepts a range of exactly 366 days, and offsets as ISO-8601 writes them', async () => {
      expect((await get('/api/v1/wallet/user/statement?from=2024-01-01&to=2025-01-01', alice)).status).toBe(200);
      const response = await get(
        `/api/v1/wallet/user/statement?from=${encodeURIComponent('2026-01-01T10:00:00+02:00')}&to=2026-01-02`,
        alice,
      );
      expect(response.body.from).toBe('2026-01-01T08:00:00.000Z');
    });

    it('takes a bound finer than a millisecond as it is: an entry stamped within that millisecond is before it', async () => {
      const [first, second, third] = ledger;
      const justAfter = (entry: LedgerEntryDocument) => entry.createdAt.toISOString().replace('Z', '9Z');
      const versionsIn = async (from: string, to: string) =>
        (await get(statementPath(from, to), alice)).body.entries.map((entry: { version: number }) => entry.version);
      expect(await versionsIn(first.createdAt.toISOString(), justAfter(second))).toEqual([1, 2]);
      expect(await versionsIn(justAfter(second), new Date(third.createdAt.getTime() + 1).toISOString())).toEqual([3]);
    });

    it('refuses to state a ledger whose balances contradict its amounts', async () => {
      const user = await wallet.fundedUser(50);
      await wallet.topUp(user, 25);
      await wallet.service.stores.ledger.entryCollection.updateOne({ _id: `${user}:2` }, { $set: { balanceAfter: 80 } });
      const response = await get(statementPath(...everything()), user);
      expect(response.status).toBe(500);
      expect(response.body).toEqual({ error: { message: 'Ledger inconsistency; operators have been alerted', status: 500 } });
    });

    it('answers 401 without a token and 404 without a wallet', async () => {
      expect((await get(statementPath('2026-01-01', '2026-01-02'))).status).toBe(401);
      expect((await get(statementPath('2026-01-01', '2026-01-02'), objectId())).status).toBe(404);
    });
  });

  describe('GET /api/v1/wallet/user/balance', () => {
    const balanceAt = (at: Date | string) =>
      `/api/v1/wallet/user/balance?at=${encodeURIComponent(at instanceof Date ? at.toISOString() : at)}`;

    it('answers the balanceAfter of the last entry at or before the moment', async () => {
      const [, second, third] = ledger;
      expect((await get(balanceAt(second.createdAt), alice)).body).toEqual({
        userId: alice,
        balance: second.balanceAfter,
        version: 2,
        at: second.createdAt.toISOString(),
      });
      const between = new Date(third.createdAt.getTime() - 1);
      expect((await get(balanceAt(between), alice)).body).toMatchObject({ balance: second.balanceAfter, version: 2 });
      expect((await get(balanceAt(third.createdAt), alice)).body).toMatchObject({ balance: third.balanceAfter, version: 3 });
    });

    it('answers 0 at version 0 before the first entry', async () => {
      expect((await get(balanceAt('2000-01-01'), alice)).body).toEqual({
        userId: alice,
        balance: 0,
        version: 0,
        at: '2000-01-01T00:00:00.000Z',
      });
    });

    it('answers the current balance without a moment', async () => {
      const before = Date.now();
      const response = await get('/api/v1/wallet/user/balance', alice);
      expect(response.body).toMatchObject({ userId: alice, balance: ledger[3].balanceAfter, version: 4 });
      expect(Date.parse(response.body.at)).toBeGreaterThanOrEqual(before - 1);
    });

    it('refuses a balance at a moment, or a page of history, over an entry rewritten since it was chained', async () => {
      const user = await wallet.fundedUser(50);
      await wallet.topUp(user, 25);
      await wallet.topUp(user, 5);
      const [, second] = await wallet.ledgerOf(user);
      // Its arithmetic still holds: only its hash, sealed over every field, shows the rewrite.
      await wallet.service.stores.ledger.entryCollection.updateOne({ _id: `${user}:2` }, { $set: { transactionId: new Types.ObjectId() } });
      const inconsistency = { error: { message: 'Ledger inconsistency; operators have been alerted', status: 500 } };
      expect((await get(balanceAt(second.createdAt), user)).body).toEqual(inconsistency);
      expect((await get('/api/v1/wallet/user/transactions', user)).body).toEqual(inconsistency);
      expect((await get('/api/v1/wallet/user/balance', user)).body).toMatchObject({ balance: 80, version: 3 });
    });

    it('answers 400 for a malformed moment, 404 without a wallet, 401 without a token', async () => {
      const malformed = await get(balanceAt('2026-02-30T00:00:00Z'), alice);
      expect(malformed.status).toBe(400);
      expect(malformed.body.error.message).toMatch(/at must be an ISO-8601 date/);
      expect((await get('/api/v1/wallet/user/balance', objectId())).status).toBe(404);
      expect((await get('/api/v1/wallet/user/balance')).status).toBe(401);
    });
  });
});
