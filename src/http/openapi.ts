import { HISTORY_PAGE } from './wallet-routes';

// The API's contract for clients (OpenAPI 3.1, JSON Schema 2020-12). A spec checks that every route
// the app serves is described here and that real responses match these schemas.

const objectId = { type: 'string', pattern: '^[0-9a-f]{24}$' } as const;
const timestamp = { type: 'string', format: 'date-time' } as const;

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
      LedgerEntry: {
        type: 'object',
        additionalProperties: false,
        required: ['transactionId', 'type', 'leg', 'amount', 'balanceAfter', 'version', 'counterpartyUserId', 'createdAt'],
        properties: {
          transactionId: { oneOf: [objectId, { type: 'null' }], description: 'null for the opening balance' },
          type: { enum: ['TopUp', 'Transfer', null] },
          leg: { enum: ['opening', 'debit', 'credit', 'compensation', 'reversal'] },
          amount: { type: 'integer', description: 'Signed: negative takes money out of the wallet' },
          balanceAfter: { type: 'integer', minimum: 0 },
          version: { type: 'integer', minimum: 1, description: 'The wallet version this entry produced (1, 2, 3, …)' },
          counterpartyUserId: { oneOf: [objectId, { type: 'null' }] },
          createdAt: timestamp,
        },
      },
      LedgerPage: {
        type: 'object',
        additionalProperties: false,
        required: ['items', 'nextCursor'],
        properties: {
          items: { type: 'array', items: { $ref: '#/components/schemas/LedgerEntry' }, maxItems: HISTORY_PAGE.maxLimit },
          nextCursor: { type: ['string', 'null'], description: 'Pass as `cursor` for the next (older) page; null on the last page' },
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
