import { isGrpcServiceError, ServiceError } from '@temporalio/client';
import { LedgerInvariantError } from '../ledger';

/** gRPC's INVALID_ARGUMENT: Temporal refuses the request itself (a payload over its size limit, say). */
const GRPC_INVALID_ARGUMENT = 3;
/** MongoDB refusing the document or the command as written: BadValue, FailedToParse, TypeMismatch, DocumentValidationFailure, BSONObjectTooLarge. */
const MONGO_INVALID_REQUEST_CODES = new Set([2, 9, 14, 121, 10334]);
/** The JavaScript faults of code meeting data it cannot handle. */
const CODE_FAULTS = [TypeError, RangeError, ReferenceError, SyntaxError];
const MONGOOSE_INVALID_DOCUMENT = new Set(['ValidationError', 'CastError', 'StrictModeError', 'BSONError']);

/**
 * Whether handling the same message again can only fail the same way: a broken ledger invariant, a
 * request a server refuses as invalid, a fault of the code itself. Anything else (a server down or
 * slow, an unknown error) may pass on a later try and is retried: a message is never given up on
 * because its infrastructure was away.
 */
export function isPermanentFailure(error: unknown): boolean {
  if (error instanceof LedgerInvariantError) return true;
  if (CODE_FAULTS.some((fault) => error instanceof fault)) return true;
  const grpc = error instanceof ServiceError ? error.cause : error;
  if (isGrpcServiceError(grpc)) return (grpc.code as number) === GRPC_INVALID_ARGUMENT;
  if (!(error instanceof Error)) return false;
  if (MONGOOSE_INVALID_DOCUMENT.has(error.name)) return true;
  const code = (error as { code?: unknown }).code;
  return error.name === 'MongoServerError' && typeof code === 'number' && MONGO_INVALID_REQUEST_CODES.has(code);
}
