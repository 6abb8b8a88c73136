import { eventually } from './eventually';

export interface ServerSentEvent {
  event: string;
  id: string;
  data: string;
}

/** A Server-Sent Events client over Node's fetch, recording every event and comment, for exact checks. */
export class SseClient {
  readonly events: ServerSentEvent[] = [];
  readonly comments: string[] = [];
  /** The JSON body of a response that is not an event stream (an error). */
  body: unknown;
  ended = false;

  private constructor(
    readonly status: number,
    private readonly abort: AbortController,
  ) {}

  static async open(url: string, headers: Record<string, string>): Promise<SseClient> {
    const abort = new AbortController();
    const response = await fetch(url, { headers: { Accept: 'text/event-stream', ...headers }, signal: abort.signal });
    const client = new SseClient(response.status, abort);
    if (response.headers.get('content-type')?.startsWith('text/event-stream')) void client.read(response.body!.getReader());
    else client.body = await response.json();
    return client;
  }

  async waitForEvents(count: number, timeoutMs = 20_000): Promise<ServerSentEvent[]> {
    return eventually(
      `${count} events (have ${this.events.length})`,
      () => (this.events.length >= count ? this.events : undefined),
      timeoutMs,
    );
  }

  close(): void {
    this.abort.abort();
  }

  private async read(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          this.record(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch {
      // Aborted by close().
    }
    this.ended = true;
  }

  private record(block: string): void {
    const event: ServerSentEvent = { event: 'message', id: '', data: '' };
    let isEvent = false;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) this.comments.push(line.slice(1).trim());
      const [, field, value] = /^(event|id|data): ?(.*)$/.exec(line) ?? [];
      if (!field) continue;
      isEvent = true;
      event[field as keyof ServerSentEvent] = value;
    }
    if (isEvent) this.events.push(event);
  }
}
