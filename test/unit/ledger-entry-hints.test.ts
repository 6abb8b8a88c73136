import { decodeHints, HINTS_PER_MESSAGE } from '../../src/messaging/ledger-entry-hints';

// What a replica takes from a hint message: hints are never money, so anything else is dropped.

const alice = '64b7f0c2a1b2c3d4e5f60718';
const bob = '64b7f0c2a1b2c3d4e5f60719';
const message = (content: unknown) => Buffer.from(JSON.stringify(content));

describe('the hints a message carries', () => {
  it('reads a list of hints', () => {
    expect(
      decodeHints(
        message([
          { userId: alice, version: 3 },
          { userId: bob, version: 1 },
        ]),
      ),
    ).toEqual([
      { userId: alice, version: 3 },
      { userId: bob, version: 1 },
    ]);
  });

  it('reads one hint alone, as a replica from before the lists sends it', () => {
    expect(decodeHints(message({ userId: alice, version: 2 }))).toEqual([{ userId: alice, version: 2 }]);
  });

  it('drops what is not a hint and keeps the hints beside it', () => {
    const carried = [
      { userId: alice.toUpperCase(), version: 1 },
      { userId: 'not-an-id', version: 1 },
      { userId: alice, version: 0 },
      { userId: alice, version: 1.5 },
      null,
      'text',
      { userId: bob, version: 7 },
    ];
    expect(decodeHints(message(carried))).toEqual([{ userId: bob, version: 7 }]);
    expect(decodeHints(Buffer.from('{not json'))).toEqual([]);
    expect(decodeHints(message(42))).toEqual([]);
  });

  it(`reads at most ${HINTS_PER_MESSAGE} hints of one message`, () => {
    const carried = Array.from({ length: HINTS_PER_MESSAGE + 5 }, (_, i) => ({ userId: alice, version: i + 1 }));
    const hints = decodeHints(message(carried));
    expect(hints).toHaveLength(HINTS_PER_MESSAGE);
    expect(hints.at(-1)).toEqual({ userId: alice, version: HINTS_PER_MESSAGE });
  });
});
