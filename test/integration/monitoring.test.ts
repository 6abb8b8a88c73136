import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { reconcileNow } from '../../src/ops/reconcile';
import { eventually } from '../support/eventually';
import { freePort } from '../support/free-port';
import { objectId } from '../support/ids';
import { REPO_ROOT } from '../support/tools';
import { WalletHarness } from '../support/wallet-harness';

const PROMETHEUS_DIR = path.join(REPO_ROOT, 'observability/prometheus');
const RULES = path.join(PROMETHEUS_DIR, 'wallet-alerts.yml');
const RULE_TESTS = path.join(PROMETHEUS_DIR, 'wallet-alerts.test.yml');
const DASHBOARD = path.join(REPO_ROOT, 'observability/grafana/provisioning/dashboards/wallet.json');
const tool = (name: string) => path.join(REPO_ROOT, '.tools/bin', name);

/**
 * The platform dashboard's HTTP and database panels (its grafana/provisioning/dashboards/
 * mint-services.json, not in this repository), as issue 23 describes them: the platform's metric
 * names and labels, for the service the platform's prometheus.yml labels `service="wallet"`.
 */
const PLATFORM_PANELS = [
  'sum by (route, method, status_code) (rate(http_requests_total{service="wallet"}[1m]))',
  'histogram_quantile(0.95, sum by (le, route) (rate(http_request_duration_seconds_bucket{service="wallet"}[1m])))',
  'active_connections{service="wallet"}',
  'histogram_quantile(0.95, sum by (le, operation, collection) (rate(db_query_duration_seconds_bucket{service="wallet"}[1m])))',
];

const NOT_METRICS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/** The series selectors an expression reads (metric name and its matchers), so that each can be checked for data. */
function selectorsOf(expr: string): string[] {
  // Blanked out, keeping every position: label lists of groupings, and what string literals hold.
  const withoutGroupings = expr
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, (grouping) => ' '.repeat(grouping.length))
    .replace(/"(?:[^"\\]|\\.)*"/g, (literal) => `"${' '.repeat(literal.length - 2)}"`);
  const selectors: string[] = [];
  for (const match of withoutGroupings.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?(\s*\()?/g)) {
    const [, name, , call] = match;
    if (call || NOT_METRICS.has(name.toLowerCase()) || /^\d/.test(name)) continue;
    const start = match.index;
    selectors.push(expr.slice(start, start + match[1].length + (match[2]?.length ?? 0)));
  }
  return selectors;
}

describe('the alerting rules', () => {
  it('pass promtool check and their unit tests, and each alert has a test in which it fires', () => {
    expect(execFileSync(tool('promtool'), ['check', 'rules', RULES], { encoding: 'utf8' })).toMatch(/SUCCESS: \d+ rules found/);
    expect(execFileSync(tool('promtool'), ['test', 'rules', RULE_TESTS], { cwd: PROMETHEUS_DIR, encoding: 'utf8' })).toMatch(/SUCCESS/);
    const alerts = [...readFileSync(RULES, 'utf8').matchAll(/- alert: (\w+)/g)].map((match) => match[1]);
    const tests = readFileSync(RULE_TESTS, 'utf8');
    expect(alerts.length).toBeGreaterThanOrEqual(10);
    const untested = alerts.filter((alert) => !new RegExp(`alertname: ${alert}\\n\\s+exp_alerts:\\n\\s+- exp_labels`).test(tests));
    expect(untested).toEqual([]);
  });
});

describe('the metrics, as a real Prometheus scrapes them while money moves', () => {
  let wallet: WalletHarness;
  let prometheus: ChildProcess;
  let prometheusUrl: string;
  let dataDir: string;

  async function query(expr: string): Promise<unknown[]> {
    const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await response.json()) as { status: string; error?: string; data?: { result: unknown[] } };
    if (body.status !== 'success') throw new Error(`${expr}: ${body.error}`);
    return body.data!.result;
  }

  /** The expressions among `exprs` for which Prometheus has no data (after waiting for a few scrapes). */
  async function withoutData(exprs: string[]): Promise<string[]> {
    let empty: string[] = exprs;
    await eventually(
      'data for every query',
      async () => {
        const results = await Promise.all(exprs.map(async (expr) => ({ expr, series: await query(expr) })));
        empty = results.filter(({ series }) => series.length === 0).map(({ expr }) => expr);
        return empty.length === 0 ? true : undefined;
      },
      20_000,
      1_000,
    ).catch(() => undefined);
    return empty;
  }

  beforeAll(async () => {
    wallet = await WalletHarness.start('monitoring');
    dataDir = mkdtempSync(path.join(tmpdir(), 'wallet-prometheus-'));
    const port = await freePort();
    prometheusUrl = `http://127.0.0.1:${port}`;
    writeFileSync(
      path.join(dataDir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        `rule_files: ['${RULES}']`,
        'scrape_configs:',
        '  - job_name: wallet',
        '    static_configs:',
        `      - targets: ['127.0.0.1:${wallet.service.httpPort}']`,
        '        labels: { service: wallet }',
      ].join('\n'),
    );
    prometheus = spawn(
      tool('prometheus'),
      [
        `--config.file=${path.join(dataDir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${path.join(dataDir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: 'ignore' },
    );
    await eventually('Prometheus ready', async () => ((await fetch(`${prometheusUrl}/-/ready`)).ok ? true : undefined));

    // Money moving: wallets, top-ups, transfers completed and refused, a dead letter, a reconciliation
    // pass, and reads of the API.
    const [payer, payee] = await wallet.signedUp(2);
    await wallet.topUp(payer, 5_000);
    for (let i = 0; i < 5; i++) await wallet.transfer(payer, payee, 100);
    const refused = await wallet.transfer(payee, payer, 1_000_000);
    expect(refused.finalized.status).toBe('Failed');
    const { ctx, close } = await wallet.operatorContext();
    try {
      // A pass that finds everything in order (the dashboard shows the time since the last one).
      expect(await reconcileNow(ctx)).toMatchObject({ ok: true });
      // A credit that waits for an operator (a local activity failing on a ledger invariant).
      const [stuckPayer, stuckPayee] = await wallet.signedUp(2);
      await wallet.topUp(stuckPayer, 500);
      await wallet.transferStuckOnCredit(stuckPayer, stuckPayee, 100);
      wallet.platform.completed({ transactionId: objectId(), type: 'Transfer', amount: 'a lot' });
      await eventually('a dead letter', async () => ((await wallet.platform.queueDepth('wallet.dlq')).messageCount > 0 ? true : undefined));
      await reconcileNow(ctx);
    } finally {
      await close();
    }
    for (const url of ['/health', '/ready', '/api/v1/wallet/user']) await fetch(`http://127.0.0.1:${wallet.service.httpPort}${url}`);
  });

  afterAll(async () => {
    prometheus?.kill('SIGTERM');
    await wallet?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers every panel query of the wallet dashboard with data', async () => {
    const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Array<{ targets?: Array<{ expr: string }> }> };
    const exprs = dashboard.panels
      .flatMap((panel) => panel.targets ?? [])
      .map((target) => target.expr.replaceAll('$__rate_interval', '1m'));
    expect(exprs.length).toBeGreaterThanOrEqual(20);
    expect(await withoutData(exprs)).toEqual([]);
  });

  it('evaluates every alert expression, and has data for every series each one reads', async () => {
    const alertRules = async () => {
      const response = await fetch(`${prometheusUrl}/api/v1/rules?type=alert`);
      const { data } = (await response.json()) as {
        data: { groups: Array<{ rules: Array<{ name: string; query: string; health: string }> }> };
      };
      return data.groups.flatMap((group) => group.rules);
    };
    const rules = await alertRules();
    expect(rules.map((rule) => rule.name).sort()).toEqual(
      [...readFileSync(RULES, 'utf8').matchAll(/- alert: (\w+)/g)].map((match) => match[1]).sort(),
    );
    await eventually('every rule evaluated', async () => ((await alertRules()).every((rule) => rule.health === 'ok') ? true : undefined));
    const selectors = [...new Set(rules.flatMap((rule) => selectorsOf(rule.query)))];
    expect(selectors).toEqual(expect.arrayContaining(['wallet_reconciliation_problems{kind="stalled"}', 'up{service="wallet"}']));
    expect(await withoutData(selectors)).toEqual([]);
  });

  it('counts the execution waiting for an operator, and every consumer of the queues the wallet consumes', async () => {
    const valueOf = async (expr: string) =>
      ((await query(expr)) as Array<{ value: [number, string] }>).map((series) => Number(series.value[1]));
    await eventually('the waiting execution counted', async () =>
      (await valueOf('max(wallet_transactions_waiting_for_operator{service="wallet"})'))[0] === 1 ? true : undefined,
    );
    const consumers = await valueOf('min(wallet_queue_consumers{service="wallet", queue=~"wallet.(user|update|revert).q"})');
    expect(consumers[0]).toBeGreaterThanOrEqual(1);
  });

  it("shows the wallet on the platform dashboard's HTTP and database panels", async () => {
    expect(await withoutData(PLATFORM_PANELS)).toEqual([]);
  });
});
