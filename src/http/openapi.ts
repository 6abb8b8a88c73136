import { z } from 'zod';
import type { WalletConfig } from '../config';
import { balanceQuery, historyQuery, liveUpdatesQuery, responseSchemas, statementQuery } from './api-schemas';

// The API's contract for clients (OpenAPI 3.1, JSON Schema 2020-12), generated from the zod schemas
// that check requests and describe responses (api-schemas.ts). A spec checks that every route the app
// serves is described here and that real responses match these schemas.

type JsonSchema = Record<string, unknown>;

const error = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

const json = (description: string, component: keyof typeof responseSchemas) => ({
  description,
  content: { 'application/json': { schema: { $ref: `#/components/schemas/${component}` } } },
});

const authErrors = {
  '401': error('No token, or a token that is malformed, expired, not yet valid, wrongly signed or for another issuer or audience'),
  '429': error('Too many requests from this client'),
  '500': error('The ledger contradicts itself (operators are alerted) or an unexpected failure'),
  '503': error('A dependency (database, auth key set) is unavailable; retry later'),
};

const authenticated = [{ cookieAuth: [] }, { bearerAuth: [] }];

/** The response bodies as components, each referring to the others by `$ref`. */
function componentSchemas(): Record<string, JsonSchema> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(responseSchemas)) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, { uri: (id) => `#/components/schemas/${id}` });
  return Object.fromEntries(Object.entries(schemas).map(([id, schema]) => [id, embedded(schema)]));
}

/** A route's query parameters, from the schema that checks them. */
function queryParameters(query: z.ZodObject): JsonSchema[] {
  return Object.entries(query.shape as Record<string, z.ZodType>).map(([name, field]) => {
    const { description, ...schema } = embedded(z.toJSONSchema(field, { io: 'output', unrepresentable: 'any' }));
    return { name, in: 'query', required: !field.safeParse(undefined).success, description, schema };
  });
}

/** A schema as part of the document: the document states the dialect and locates it. */
function embedded(schema: JsonSchema): JsonSchema {
  const part = { ...schema };
  delete part.$schema;
  delete part.$id;
  return part;
}

export interface ApiLimits {
  statement: Pick<WalletConfig['statement'], 'maxRangeDays'>;
  liveUpdates: Pick<WalletConfig['liveUpdates'], 'heartbeatSeconds'>;
}

/** The document `/openapi.json` serves; the limits a deployment configures are written into it. */
export function createOpenApiDocument(limits: ApiLimits) {
  const { maxRangeDays } = limits.statement;
  const [lastEventIdQuery] = queryParameters(liveUpdatesQuery);
  return {
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
      schemas: componentSchemas(),
    },
    paths: {
      '/api/v1/wallet/user': {
        get: {
          summary: "The caller's wallet",
          security: authenticated,
          responses: { '200': json('The wallet', 'Wallet'), '404': error('The caller has no wallet'), ...authErrors },
        },
      },
      '/api/v1/wallet/user/transactions': {
        get: {
          summary: "The caller's ledger entries, newest first",
          security: authenticated,
          parameters: queryParameters(historyQuery),
          responses: { '200': json('A page of entries', 'LedgerPage'), '400': error('Invalid limit or cursor'), ...authErrors },
        },
      },
      '/api/v1/wallet/user/balance': {
        get: {
          summary: "The caller's balance at a moment, or now",
          security: authenticated,
          parameters: queryParameters(balanceQuery),
          responses: {
            '200': json('The balance after the last entry at or before `at`', 'BalanceAt'),
            '400': error('`at` is not an ISO-8601 date or date-time with a zone'),
            '404': error('The caller has no wallet'),
            ...authErrors,
          },
        },
      },
      '/api/v1/wallet/user/statement': {
        get: {
          summary: "The caller's entries with from <= time < to, oldest first, with opening and closing balances and totals",
          description: `The range is at most ${maxRangeDays} days.`,
          security: authenticated,
          parameters: queryParameters(statementQuery),
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
            '400': error(`A malformed date, to not after from, a range over ${maxRangeDays} days, or a format other than json or csv`),
            '404': error('The caller has no wallet'),
            ...authErrors,
            '503': error('A dependency is unavailable, or too many statements (or one of this user already) are streaming; retry later'),
          },
        },
      },
      '/api/v1/wallet/user/events': {
        get: {
          summary: "Live updates: one Server-Sent Event per ledger entry of the caller's wallet",
          description:
            'Each entry is sent as `event: entry`, `id: <version>`, `data: <LedgerEntry JSON>`, in version order, once. ' +
            'A new connection starts with the latest entry; one with `Last-Event-ID` (sent by browsers on reconnect) or ' +
            `\`lastEventId\` gets every entry after that version first. A \`: heartbeat\` comment comes every ` +
            `${limits.liveUpdates.heartbeatSeconds} s.`,
          security: authenticated,
          parameters: [
            { ...lastEventIdQuery, name: 'Last-Event-ID', in: 'header', description: 'Resume after this version' },
            lastEventIdQuery,
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
        get: { summary: 'The process is alive', responses: { '200': json('Alive', 'Health') } },
      },
      '/ready': {
        get: {
          summary: 'MongoDB, RabbitMQ and Temporal all answer',
          responses: { '200': json('Ready', 'Readiness'), '503': json('Not ready; says which dependency failed', 'Readiness') },
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
  };
}

export type OpenApiDocument = ReturnType<typeof createOpenApiDocument>;
