import { ServiceError } from '@temporalio/client';
import { mongo } from 'mongoose';
import { LedgerContentionError, LedgerInvariantError } from '../../src/ledger';
import { isPermanentFailure } from '../../src/messaging/permanent-failure';

/** A gRPC status as Temporal's client raises it, wrapped as the workflow client does. */
function temporalRefusal(code: number, details: string): ServiceError {
  const status = Object.assign(new Error(`${code} ${details}`), { code, details, metadata: {} });
  return new ServiceError(details, { cause: status });
}

describe('which failures of a message are permanent', () => {
  it.each([
    ['a broken ledger invariant', new LedgerInvariantError('balance of user x is -5')],
    ['a fault of the code itself', new TypeError("Cannot read properties of undefined (reading 'amount')")],
    ['Temporal refusing the request as invalid (INVALID_ARGUMENT)', temporalRefusal(3, 'Blob data size exceeds limit')],
    [
      'MongoDB refusing the document (DocumentValidationFailure)',
      new mongo.MongoServerError({ message: 'Document failed validation', code: 121 }),
    ],
  ])('%s is permanent: the same message would fail the same way', (_, error) => {
    expect(isPermanentFailure(error)).toBe(true);
  });

  it.each([
    ['Temporal unreachable (UNAVAILABLE)', temporalRefusal(14, 'No connection established')],
    ['a missing namespace, a configuration fault an operator fixes', temporalRefusal(5, 'Namespace default is not found')],
    ['MongoDB unreachable', new mongo.MongoNetworkError('connection refused')],
    [
      'no MongoDB server to select',
      new mongo.MongoServerSelectionError('Server selection timed out after 30000 ms', { type: 'Unknown' } as never),
    ],
    ['a write conflict', new mongo.MongoServerError({ message: 'WriteConflict', code: 112 })],
    ['writers racing for one wallet', new LedgerContentionError('u1', 20)],
    ['an error of unknown kind', new Error('something else')],
    ['a value that is not an error', 'a string thrown'],
  ])('%s is not: an outage passes, and its message waits', (_, error) => {
    expect(isPermanentFailure(error)).toBe(false);
  });
});
