/** An error with the HTTP status and message a client should see. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The body of every error response: `{"error":{"message","status"}}`. */
export function errorBody(status: number, message: string) {
  return { error: { message, status } };
}
