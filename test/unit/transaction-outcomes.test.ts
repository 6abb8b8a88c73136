import { toAnnouncement } from '../../src/finalization/announcement';
import { eventCanChange } from '../../src/domain';

const T = '665f1c2ab7e4a1d2c3b4a5f8';

describe('what a transaction record still lets an event change', () => {
  it.each([
    ['completed', undefined, true],
    ['completed', 'Pending', true],
    ['completed', 'Completed', false],
    ['completed', 'Failed', false],
    ['rejected', 'Pending', true],
    ['rejected', 'Completed', false],
    ['rejected', 'Failed', false],
    ['failed', undefined, true],
    ['failed', 'Pending', true],
    ['failed', 'Completed', true],
    ['failed', 'Failed', false],
  ] as const)('%s on a record %s: %s', (event, status, expected) => {
    expect(eventCanChange(event, status)).toBe(expected);
  });
});

describe('an announcement as the platform receives it', () => {
  it.each([undefined, '', '   '])('gives a Failed without a reason (%j) the default reason', (reason) => {
    expect(toAnnouncement({ transactionId: T, status: 'Failed', reason })).toEqual({
      transactionId: T,
      status: 'Failed',
      reason: 'Transaction failed',
    });
  });

  it('keeps a Failed reason, trimmed, and gives a Completed none', () => {
    expect(toAnnouncement({ transactionId: T, status: 'Failed', reason: ' Card declined ' })).toEqual({
      transactionId: T,
      status: 'Failed',
      reason: 'Card declined',
    });
    expect(toAnnouncement({ transactionId: T, status: 'Completed', reason: 'stray' })).toEqual({ transactionId: T, status: 'Completed' });
  });
});
