import { HISTORY_PAGE } from './wallet-routes';

// The API's contract for clients (OpenAPI 3.1, JSON Schema 2020-12). A spec checks that every route
// the app serves is described here and that real responses match these schemas.

const objectId = { type: 'string', pattern: '^[0-9a-f]{24}$' } as const;
const timestamp = { type: 'string', format: 'date-time' } as const;
const chainHash = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;
const ledgerEntryFields = ['transactionId', 'type', 'leg', 'amount', 'balanceAfter', 'version', 'counterpartyUserId', 'createdAt'];
const ledgerEntryProperties = {
  transactionId: { oneOf: [objectId, { type: 'null' }], description: 'null for the opening balance' },
  type: { enum: ['TopUp', 'Transfer', null] },
  leg: { enum: ['opening', 'debit', 'credit', 'compensation', 'reversal'] },
  amount: { type: 'integer', description: 'Signed: negative takes money out of the wallet' },
  balanceAfter: { type: 'integer', minimum: 0 },
  version: { type: 'integer', minimum: 1, description: 'The wallet version this entry produced (1, 2, 3, …)' },
  counterpartyUserId: { oneOf: [objectId, { type: 'null' }] },
  createdAt: timestamp,
};

const error = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

const authErrors = {
  '401': error('No token, or a token that is malformed, expired, not yet valid, wrongly signed or for another issuer or audience'),
  '429': error('Too many requests from this client'),
  '500': error('The ledger contradicts itself (operators are alerted) or an unexpected failure'),
  '503': error('A dependency (database, auth key set) is unavailable; retry later'),
};

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Wallet service',
    version: '1.0.0',
    description:
      "Balances and history of the caller's wallet. Amounts are integers in the platform's minor unit. " +
      'Authenticate with the `access.token` cookie set by the auth service or an `Authorization: Bearer` header.',
  },
  servers: [{ url: '/' }],
  components: {
    securitySchemes: {
      cookieAuth: { type: 'apiKey', in: 'cookie', name: 'access.token' },
      bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
    },
    schemas: {
      Error: {
        type: 'object',
        additionalProperties: false,
        required: ['error'],
        properties: {
          error: {
            type: 'object',
            additionalProperties: false,
            required: ['message', 'status'],
            properties: { message: { type: 'string' }, status: { type: 'integer', minimum: 400, maximum: 599 } },
          },
        },
      },
      Wallet: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'userId', 'balance', 'createdAt', 'updatedAt'],
        properties: {
          id: objectId,
          userId: objectId,
          balance: { type: 'integer', minimum: 0, description: 'Minor units' },
          createdAt: timestamp,
          updatedAt: timestamp,
        },
      },
      LedgerEntry: { type: 'object', additionalProperties: false, required: ledgerEntryFields, properties: ledgerEntryProperties },
      LedgerPage: {
        type: 'object',
        additionalProperties: false,
        required: ['items', 'nextCursor'],
        properties: {
          items: { type: 'array', items: { $ref: '#/components/schemas/LedgerEntry' }, maxItems: HISTORY_PAGE.maxLimit },
          nextCursor: { type: ['string', 'null'], description: 'Pass as `cursor` for the next (older) page; null on the last page' },
        },
      },
      BalanceAt: {
        type: 'object',
        additionalProperties: false,
        required: ['userId', 'balance', 'version', 'at'],
        properties: {
          userId: objectId,
          balance: { type: 'integer', minimum: 0, description: 'The balanceAfter of the last entry at or before `at`; 0 before the first' },
          version: { type: 'integer', minimum: 0, description: 'The version of that entry; 0 before the first' },
          at: timestamp,
        },
      },
      BalancePosition: {
        type: 'object',
        additionalProperties: false,
        required: ['balance', 'version', 'hash'],
        properties: {
          balance: { type: 'integer', minimum: 0 },
          version: { type: 'integer', minimum: 0 },
          hash: {
            oneOf: [chainHash, { type: 'null' }],
            description:
              'The chain hash of the entry at `version` (64 zeros before the first). The closing one is the chain head the statement covers: `npm run ops -- verify --user <id> --head <version>:<hash>` checks the ledger still holds it. null for an entry written before entries were chained.',
          },
        },
      },
      StatementEntry: {
        type: 'object',
        additionalProperties: false,
        required: [...ledgerEntryFields, 'hash'],
        properties: {
          ...ledgerEntryProperties,
          hash: { oneOf: [chainHash, { type: 'null' }], description: "SHA-256 over the entry's fields and the previous entry's hash" },
        },
      },
      Statement: {
        type: 'object',
        additionalProperties: false,
        required: ['userId', 'from', 'to', 'opening', 'entries', 'totals', 'closing'],
        description:
          'Streamed in this order: what is known first, the entries oldest first, the totals and closing balance last. ' +
          'opening.balance + totals.credits + totals.debits = closing.balance, checked as it is written; a ledger found ' +
          'inconsistent while streaming cuts the response off rather than finish it.',
        properties: {
          userId: objectId,
          from: timestamp,
          to: timestamp,
          opening: { $ref: '#/components/schemas/BalancePosition', description: 'After the last entry before `from`' },
          entries: { type: 'array', items: { $ref: '#/components/schemas/StatementEntry' } },
          totals: {
            type: 'object',
            additionalProperties: false,
            required: ['credits', 'debits', 'entries'],
            properties: {
              credits: { type: 'integer', minimum: 0, description: 'Sum of the positive amounts' },
              debits: { type: 'integer', maximum: 0, description: 'Sum of the negative amounts (negative)' },
              entries: { type: 'integer', minimum: 0 },
            },
          },
          closing: { $ref: '#/components/schemas/BalancePosition', description: 'After the last entry before `to`' },
        },
      },
      Health: { type: 'object', required: ['status'], properties: { status: { const: 'ok' } } },
      Readiness: {
        type: 'object',
        additionalProperties: false,
        required: ['status', 'checks'],
        properties: {
          status: { enum: ['ready', 'unavailable'] },
          checks: {
            type: 'object',
            additionalProperties: false,
            required: ['mongodb', 'rabbitmq', 'temporal'],
            properties: {
              mongodb: { type: 'string' },
              rabbitmq: { type: 'string' },
              temporal: { type: 'string' },
            },
            // One per consumer of the wallet's queues, `consumer <queue>`: down once missing for 10 s.
            patternProperties: { '^consumer ': { enum: ['up', 'down'] } },
          },
        },
      },
    },
  },
  paths: {
    '/api/v1/wallet/user': {
      get: {
        summary: "The caller's wallet",
        security: [{ cookieAuth: [] }, { bearerAuth: [] }],
        responses: {
          '200': { description: 'The wallet', content: { 'application/json': { schema: { $ref: '#/components/schemas/Wallet' } } } },
          '404': error('The caller has no wallet'),
          ...authErrors,
        },
      },
    },
    '/api/v1/wallet/user/transactions': {
      get: {
        summary: "The caller's ledger entries, newest first",
        security: [{ cookieAuth: [] }, { bearerAuth: [] }],
        parameters: [
          {
            name: 'limit',
            in: 'query',
            schema: { type: 'integer', minimum: 1, maximum: HISTORY_PAGE.maxLimit, default: HISTORY_PAGE.defaultLimit },
          },
          { name: 'cursor', in: 'query', schema: { type: 'string', maxLength: 64 }, description: 'The nextCursor of the previous page' },
        ],
        responses: {
          '200': {
            description: 'A page of entries',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/LedgerPage' } } },
          },
          '400': error('Invalid limit or cursor'),
          ...authErrors,
        },
      },
    },
    '/api/v1/wallet/user/balance': {
      get: {
        summary: "The caller's balance at a moment, or now",
        security: [{ cookieAuth: [] }, { bearerAuth: [] }],
        parameters: [
          {
            name: 'at',
            in: 'query',
            schema: { type: 'string' },
            description: 'ISO-8601 date (midnight UTC) or date-time with a zone; without it, the current balance',
          },
        ],
        responses: {
          '200': {
            description: 'The balance after the last entry at or before `at`',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/BalanceAt' } } },
          },
          '400': error('`at` is not an ISO-8601 date or date-time with a zone'),
          '404': error('The caller has no wallet'),
          ...authErrors,
        },
      },
    },
    '/api/v1/wallet/user/statement': {
      get: {
        summary: "The caller's entries with from <= time < to, oldest first, with opening and closing balances and totals",
        security: [{ cookieAuth: [] }, { bearerAuth: [] }],
        parameters: [
          { name: 'from', in: 'query', required: true, schema: { type: 'string' }, description: 'ISO-8601, inclusive' },
          {
            name: 'to',
            in: 'query',
            required: true,
            schema: { type: 'string' },
            description: 'ISO-8601, exclusive; at most 366 days after from',
          },
          { name: 'format', in: 'query', schema: { enum: ['json', 'csv'], default: 'json' } },
        ],
        responses: {
          '200': {
            description:
              'The statement, streamed. CSV: RFC 4180 with the header row time,transactionId,type,leg,amount,balanceAfter,' +
              'counterpartyUserId,version,hash, as an attachment named wallet-statement-<from>-<to>.csv',
            content: {
              'application/json': { schema: { $ref: '#/components/schemas/Statement' } },
              'text/csv': { schema: { type: 'string' } },
            },
          },
          '400': error('A malformed date, to not after from, a range over 366 days, or a format other than json or csv'),
          '404': error('The caller has no wallet'),
          ...authErrors,
          '503': error('A dependency is unavailable, or too many statements are streaming; retry later'),
        },
      },
    },
    '/api/v1/wallet/user/events': {
      get: {
        summary: "Live updates: one Server-Sent Event per ledger entry of the caller's wallet",
        description:
          'Each entry is sent as `event: entry`, `id: <version>`, `data: <LedgerEntry JSON>`, in version order, once. ' +
          'A new connection starts with the latest entry; one with `Last-Event-ID` (sent by browsers on reconnect) or ' +
          '`lastEventId` gets every entry after that version first. A `: heartbeat` comment comes every 15 s.',
        security: [{ cookieAuth: [] }, { bearerAuth: [] }],
        parameters: [
          {
            name: 'Last-Event-ID',
            in: 'header',
            schema: { type: 'string', pattern: '^[0-9]+$' },
            description: 'Resume after this version',
          },
          {
            name: 'lastEventId',
            in: 'query',
            schema: { type: 'string', pattern: '^[0-9]+$' },
            description: 'The same, for clients that cannot set headers',
          },
        ],
        responses: {
          '200': { description: 'The event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
          '400': error('Last-Event-ID is not a version of this wallet'),
          '404': error('The caller has no wallet'),
          ...authErrors,
          '503': error('Too many live-update connections (per user or in total), shutting down, or a dependency is unavailable'),
        },
      },
    },
    '/health': {
      get: {
        summary: 'The process is alive',
        responses: {
          '200': { description: 'Alive', content: { 'application/json': { schema: { $ref: '#/components/schemas/Health' } } } },
        },
      },
    },
    '/ready': {
      get: {
        summary: 'MongoDB, RabbitMQ and Temporal all answer',
        responses: {
          '200': { description: 'Ready', content: { 'application/json': { schema: { $ref: '#/components/schemas/Readiness' } } } },
          '503': {
            description: 'Not ready; says which dependency failed',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Readiness' } } },
          },
        },
      },
    },
    '/metrics': {
      get: {
        summary: 'Prometheus metrics',
        responses: { '200': { description: 'Text exposition format', content: { 'text/plain': { schema: { type: 'string' } } } } },
      },
    },
    '/openapi.json': {
      get: {
        summary: 'This document',
        responses: { '200': { description: 'OpenAPI 3.1', content: { 'application/json': { schema: { type: 'object' } } } } },
      },
    },
    '/api-docs': {
      get: {
        summary: 'Interactive documentation of this API',
        responses: { '301': { description: 'Redirects to the documentation page at /api-docs/' } },
      },
    },
  },
} as const;
