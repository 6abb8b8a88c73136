// `npm run bench -- --tracing on`: an OTLP/HTTP (JSON) endpoint for the service's traces that only
// counts the spans it receives, so that the run measures what producing and exporting them costs.
import { createServer, type Server } from 'node:http';

export class SpanSink {
  spans = 0;
  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<SpanSink> {
    let sink: SpanSink | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        if (sink && req.url === '/v1/traces') sink.spans += countSpans(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    sink = new SpanSink(server, `http://127.0.0.1:${(server.address() as { port: number }).port}`);
    return sink;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function countSpans(body: string): number {
  try {
    const request = JSON.parse(body) as { resourceSpans?: Array<{ scopeSpans?: Array<{ spans?: unknown[] }> }> };
    return (request.resourceSpans ?? []).flatMap((r) => r.scopeSpans ?? []).reduce((sum, scope) => sum + (scope.spans?.length ?? 0), 0);
  } catch {
    return 0;
  }
}
