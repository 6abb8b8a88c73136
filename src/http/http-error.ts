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

/** A read that came before the database was connected: the HTTP server starts first. */
export class ServiceStartingError extends HttpError {
  constructor() {
    super(503, 'Service starting; retry shortly');
    this.name = 'ServiceStartingError';
  }
}

/** The body of every error response: `{"error":{"message","status"}}`. */
export function errorBody(status: number, message: string) {
  return { error: { message, status } };
}
