// Every id the platform exchanges (users, transactions) is a MongoDB ObjectId in 24 hex digits.

/** A 24-hex-digit ObjectId, in either case, as the platform's services write them. */
export const OBJECT_ID_HEX = /^[0-9a-fA-F]{24}$/;

/** The id in the form the wallet keys by (lower case), or undefined when it is not a 24-hex-digit ObjectId. */
export function canonicalObjectId(value: unknown): string | undefined {
  return typeof value === 'string' && OBJECT_ID_HEX.test(value) ? value.toLowerCase() : undefined;
}

/** When an ObjectId was made (its first four bytes are seconds since the epoch), in milliseconds. */
export function objectIdTimeMs(id: string): number | undefined {
  return OBJECT_ID_HEX.test(id) ? Number.parseInt(id.slice(0, 8), 16) * 1000 : undefined;
}
