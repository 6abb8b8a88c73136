import { createServer, type Server } from 'node:http';
import { eventually } from '../support/eventually';
import { WalletHarness } from '../support/wallet-harness';
import { bundleTracedWorkflowsForTests } from '../support/workflow-bundle';

interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  service: string;
  attributes: Record<string, unknown>;
}

/** An OTLP/HTTP (JSON) trace receiver of the test's own: it keeps every span posted to /v1/traces. */
class TraceReceiver {
  readonly spans: ReceivedSpan[] = [];
  private server: Server | undefined;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        if (req.url === '/v1/traces' && req.headers['content-type']?.startsWith('application/json'))
          this.receive(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private receive(body: string): void {
    type Attribute = { key: string; value: Record<string, unknown> };
    const valuesOf = (attributes: Attribute[] = []) =>
      Object.fromEntries(attributes.map(({ key, value }) => [key, Object.values(value)[0]]));
    const request = JSON.parse(body) as {
      resourceSpans: Array<{
        resource: { attributes: Attribute[] };
        scopeSpans: Array<{ spans: Array<Omit<ReceivedSpan, 'service' | 'attributes'> & { attributes?: Attribute[] }> }>;
      }>;
    };
    for (const { resource, scopeSpans } of request.resourceSpans) {
      const service = String(valuesOf(resource.attributes)['service.name']);
      for (const { spans } of scopeSpans) {
        for (const span of spans)
          this.spans.push({ ...span, parentSpanId: span.parentSpanId || undefined, service, attributes: valuesOf(span.attributes) });
      }
    }
  }
}

describe('tracing a transfer with OpenTelemetry', () => {
  const receiver = new TraceReceiver();
  let wallet: WalletHarness;

  beforeAll(async () => {
    const endpoint = await receiver.start();
    wallet = await WalletHarness.start('tracing', {
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint },
      workflowBundlePath: await bundleTracedWorkflowsForTests(),
    });
  }, 120_000);

  afterAll(async () => {
    await wallet?.stop();
    await receiver.stop();
  });

  it('exports one trace from the bridge through the workflow and its activities to the publish of the finalization', async () => {
    const [payer, payee] = await wallet.signedUp(2);
    await wallet.topUp(payer, 1_000);
    const { transactionId, finalized } = await wallet.transfer(payer, payee, 250);
    expect(finalized.status).toBe('Completed');

    const publish = await eventually('the publish span of the transfer', () =>
      receiver.spans.find(
        (span) => span.name === 'wallet.transactionFinalized publish' && span.attributes['wallet.transaction_id'] === transactionId,
      ),
    );
    const trace = await eventually('the activities of the transfer', () => {
      const spans = receiver.spans.filter((span) => span.traceId === publish.traceId);
      return spans.some((span) => span.name === 'RunActivity:processStraightThrough') ? spans : undefined;
    });
    const byId = new Map(trace.map((span) => [span.spanId, span]));
    const names = trace.map((span) => span.name);

    const root = trace.find((span) => !span.parentSpanId);
    expect(root).toMatchObject({ name: 'wallet.update.q process', service: 'wallet-service' });
    expect(names).toEqual(expect.arrayContaining(['SignalWithStartWorkflow:walletTransaction', 'RunActivity:processStraightThrough']));
    // A completed transfer is one step: its open, both legs and its announcement.
    expect(names.filter((name) => name.startsWith('StartActivity:'))).toEqual(['StartActivity:processStraightThrough']);
    // The publish runs inside that activity, which the workflow scheduled.
    const processing = byId.get(publish.parentSpanId!);
    expect(processing?.name).toBe('RunActivity:processStraightThrough');
    expect(byId.get(processing!.parentSpanId!)?.name).toBe('StartActivity:processStraightThrough');
    // The bridge handed the event to Temporal inside its own span.
    expect(trace.find((span) => span.name === 'SignalWithStartWorkflow:walletTransaction')?.parentSpanId).toBe(root?.spanId);
  });
});
