/**
 * The layering, checked on every `npm test` (npm run lint:layers). Data flows one way:
 * bridge (src/messaging) -> workflows -> activities -> ledger / transaction record / finalization,
 * all of them speaking the domain's words (src/domain.ts), which imports nothing.
 * Type-only imports are erased by the compiler and not checked here.
 */
module.exports = {
  forbidden: [
    {
      name: 'the-domain-imports-nothing',
      comment: 'src/domain.ts is the vocabulary the workflow bundle and the services share: plain types and pure functions.',
      severity: 'error',
      from: { path: '^src/domain\\.ts$' },
      to: { pathNot: '^src/domain\\.ts$' },
    },
    {
      name: 'workflows-are-deterministic',
      comment:
        'workflows/ is bundled into the deterministic sandbox: it imports only the Temporal workflow API, the domain and itself (activity types come by type-only imports, erased).',
      severity: 'error',
      from: { path: '^workflows/' },
      to: { pathNot: ['^workflows/', '^src/domain\\.ts$', '^node_modules/@temporalio/(workflow|common)/'] },
    },
    {
      name: 'only-the-definitions-cross-into-workflows',
      comment:
        "Outside workflows/, only a workflow's definitions (ids, signals, query, search attributes) are imported; the worker finds the workflows by path.",
      severity: 'error',
      from: { pathNot: ['^workflows/', '^test/'] },
      to: { path: '^workflows/', pathNot: '^workflows/[^/]+/definitions\\.ts$' },
    },
    {
      name: 'activities-do-not-touch-transport',
      comment: 'Activities hand their step to the module that owns it; HTTP and RabbitMQ transport are not theirs.',
      severity: 'error',
      from: { path: '^activities/' },
      to: { path: '^src/(http|messaging)/' },
    },
    {
      name: 'only-the-composition-root-builds-activities',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/service\\.ts$' },
      to: { path: '^activities/' },
    },
    {
      name: 'the-ledger-is-the-bottom',
      comment: 'The ledger owns balances: it depends on nothing that calls it.',
      severity: 'error',
      from: { path: '^src/ledger/' },
      to: {
        path: '^(src/(messaging|temporal|http|finalization|transaction-record|reconciliation|ops|live-updates)|activities|workflows)/',
      },
    },
    {
      name: 'the-ledger-has-one-entry-point',
      comment: 'Outside src/ledger, the ledger is reached through src/ledger/index.ts: its writer and projection stay its own.',
      severity: 'error',
      from: { pathNot: ['^src/ledger/', '^test/'] },
      to: { path: '^src/ledger/', pathNot: '^src/ledger/index\\.ts$' },
    },
    {
      name: 'the-record-and-the-announcement-do-not-call-upward',
      severity: 'error',
      from: { path: '^src/(transaction-record|finalization)/' },
      to: { path: '^(src/(temporal|http|ops|ledger|reconciliation)|activities)/' },
    },
    {
      name: 'the-reconciliation-reads-the-ledger-and-the-record',
      comment: 'The reconciliation checks the ledger against the transaction records; it knows no transport, workflow or announcement.',
      severity: 'error',
      from: { path: '^src/reconciliation/' },
      to: { path: '^(src/(messaging|temporal|http|finalization|ops|live-updates)|activities)/' },
    },
    {
      name: 'the-bridge-does-not-know-temporal',
      comment: 'The message router declares the interface Temporal implements (temporal/transaction-workflows).',
      severity: 'error',
      from: { path: '^src/messaging/' },
      to: { path: '^src/(temporal|http|finalization|ops|live-updates)/' },
    },
    {
      name: 'live-updates-only-read-the-ledger',
      comment:
        'The live updates follow the ledger by reading it; HTTP serves them and the composition root feeds them hints, so they know neither the transport nor the money path.',
      severity: 'error',
      from: { path: '^src/live-updates/' },
      to: { path: '^(src/(messaging|temporal|http|finalization|transaction-record|ops)|activities)/' },
    },
    {
      name: 'only-the-composition-root-reads-the-platform-state',
      comment: 'src/monitoring reads every layer for the scrape-time gauges; only service.ts wires it, so no layer below depends on it.',
      severity: 'error',
      from: { pathNot: ['^src/service\\.ts$', '^src/monitoring/', '^test/'] },
      to: { path: '^src/monitoring/' },
    },
    {
      name: 'nothing-imports-the-composition-root',
      comment: 'service.ts builds the parts; the parts never reach back for it.',
      severity: 'error',
      from: { path: '^(src|activities|workflows)/', pathNot: '^src/main\\.ts$' },
      to: { path: '^src/(service|main)\\.ts$' },
    },
    {
      name: 'nothing-imports-tests',
      severity: 'error',
      from: { pathNot: '^test/' },
      to: { path: '^test/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules|\\.tools|\\.run|\\.data)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: false,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
