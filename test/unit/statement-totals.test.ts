import { LedgerInvariantError, StatementTally } from '../../src/ledger';

describe('the totals of a statement, as it is written', () => {
  it('adds credits and debits so that opening + credits + debits = closing', () => {
    const tally = new StatementTally('u1', 100);
    tally.add({ version: 5, amount: 50, balanceAfter: 150 });
    tally.add({ version: 6, amount: -30, balanceAfter: 120 });
    expect(tally.close(120)).toEqual({ credits: 50, debits: -30, entries: 2 });
  });

  it('stops at the first entry whose balance the totals so far do not explain', () => {
    const tally = new StatementTally('u1', 100);
    tally.add({ version: 5, amount: 50, balanceAfter: 150 });
    expect(() => tally.add({ version: 6, amount: -30, balanceAfter: 121 })).toThrow(LedgerInvariantError);
  });

  it('refuses a closing balance the totals do not add up to', () => {
    const tally = new StatementTally('u1', 100);
    tally.add({ version: 5, amount: 50, balanceAfter: 150 });
    expect(() => tally.close(151)).toThrow(/opening 100 \+ credits 50 \+ debits 0 ≠ closing 151/);
  });
});
