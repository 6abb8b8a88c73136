import {
  BalanceLimitExceededError,
  InsufficientBalanceError,
  LedgerInvariantError,
  GENESIS_HASH,
  nextEntryTime,
  nextLink,
  verifyChain,
} from '../../src/ledger';

const head = (balance: number, version: number, latestEntryAt: Date | null = null) => ({
  userId: 'u1',
  balance,
  version,
  latestEntryAt,
  hash: GENESIS_HASH,
});

describe('the next ledger entry of a wallet', () => {
  it('claims the next version and adds the signed amount to the balance', () => {
    expect(nextLink(head(100, 4), 25)).toEqual({ version: 5, amount: 25, balanceAfter: 125 });
    expect(nextLink(head(100, 4), -100)).toEqual({ version: 5, amount: -100, balanceAfter: 0 });
  });

  it('refuses to take the balance below zero', () => {
    expect(() => nextLink(head(100, 4), -101)).toThrow(InsufficientBalanceError);
  });

  it('refuses a balance beyond the largest exact integer', () => {
    expect(() => nextLink(head(Number.MAX_SAFE_INTEGER - 1, 1), 2)).toThrow(BalanceLimitExceededError);
  });

  it.each([0, 1.5, Number.NaN, 2 ** 60])('treats amount %p as a broken invariant', (amount) => {
    expect(() => nextLink(head(100, 4), amount)).toThrow(LedgerInvariantError);
  });

  it('treats a negative or fractional head as a broken invariant', () => {
    expect(() => nextLink(head(-1, 4), 1)).toThrow(LedgerInvariantError);
    expect(() => nextLink(head(10, 1.5), 1)).toThrow(LedgerInvariantError);
  });
});

describe('reading a ledger back', () => {
  const chain = [
    { version: 1, amount: 100, balanceAfter: 100 },
    { version: 2, amount: -30, balanceAfter: 70 },
    { version: 3, amount: 5, balanceAfter: 75 },
  ];

  it('accepts a gapless chain whose balances follow from its amounts', () => {
    expect(() => verifyChain('u1', chain)).not.toThrow();
    expect(() => verifyChain('u1', chain.slice(1), chain[0])).not.toThrow();
  });

  it('rejects a gap in the versions', () => {
    expect(() => verifyChain('u1', [chain[0], chain[2]])).toThrow(/version 3 follows 1/);
  });

  it('rejects a balanceAfter that does not follow from the previous one', () => {
    expect(() => verifyChain('u1', [chain[0], { version: 2, amount: -30, balanceAfter: 71 }])).toThrow(/expected 100 \+ -30/);
  });

  it('rejects a chain that does not start at version 1 without its predecessor', () => {
    expect(() => verifyChain('u1', chain.slice(1))).toThrow(LedgerInvariantError);
  });

  it('rejects a negative balance', () => {
    expect(() => verifyChain('u1', [{ version: 1, amount: -5, balanceAfter: -5 }])).toThrow(LedgerInvariantError);
  });
});

describe('the time of the next ledger entry', () => {
  const now = new Date('2026-03-01T12:00:00.000Z');

  it("is the writer's clock when the wallet's latest entry is older", () => {
    expect(nextEntryTime(head(10, 3, new Date('2026-03-01T11:59:59.000Z')), now)).toEqual(now);
    expect(nextEntryTime(head(0, 0), now)).toEqual(now);
  });

  it("is the latest entry's time when the writer's clock is behind it, so times never decrease along the versions", () => {
    const ahead = new Date('2026-03-01T12:00:05.000Z');
    expect(nextEntryTime(head(10, 3, ahead), now)).toEqual(ahead);
  });
});
