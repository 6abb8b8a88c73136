import { HttpError } from '../../src/http/errors';
import { StatementSlots } from '../../src/http/statement-slots';

/** Statements stream for minutes: a process holds a few at once, and no one user holds them all. */
describe('statement slots', () => {
  const refusal = (take: () => unknown) => {
    try {
      take();
    } catch (error) {
      return error instanceof HttpError ? { status: error.status, message: error.message } : error;
    }
    return undefined;
  };

  it("refuses a user's statement past their own limit while other users still get one", () => {
    const slots = new StatementSlots({ total: 4, perUser: 2 });
    slots.take('alice');
    slots.take('alice');
    expect(refusal(() => slots.take('alice'))).toEqual({
      status: 503,
      message: 'You already have 2 statements being prepared; retry once one has finished',
    });
    expect(refusal(() => slots.take('bob'))).toBeUndefined();
  });

  it('refuses any statement past the total, and a released slot is taken again', () => {
    const slots = new StatementSlots({ total: 2, perUser: 2 });
    const releaseAlice = slots.take('alice');
    slots.take('bob');
    expect(refusal(() => slots.take('carol'))).toEqual({ status: 503, message: 'Too many statements are being prepared; retry shortly' });
    releaseAlice();
    releaseAlice();
    expect(refusal(() => slots.take('carol'))).toBeUndefined();
    expect(refusal(() => slots.take('dave'))).toMatchObject({ status: 503 });
  });

  it("gives a user's slot back once their statements have all finished", () => {
    const slots = new StatementSlots({ total: 4, perUser: 1 });
    const release = slots.take('alice');
    expect(refusal(() => slots.take('alice'))).toMatchObject({ status: 503 });
    release();
    expect(refusal(() => slots.take('alice'))).toBeUndefined();
  });
});
