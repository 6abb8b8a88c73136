import Ajv2020 from 'ajv/dist/2020';
import type { OpenApiDocument } from '../../src/http/openapi';

interface ResponseLike {
  status: number;
  body: unknown;
  headers: Record<string, string>;
}

/** Checks real responses against the schemas of the OpenAPI document the service publishes. */
export class OpenApiValidator {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true });

  /** The document as the service serves it at /openapi.json. */
  constructor(private readonly document: OpenApiDocument) {
    this.ajv.addSchema({ $id: 'openapi', components: document.components });
    this.ajv.addFormat('date-time', { validate: (value: string) => !Number.isNaN(Date.parse(value)) && /T/.test(value) });
  }

  expectResponseMatches(method: string, url: string, response: ResponseLike): void {
    const path = url.split('?')[0];
    const operation = (this.document.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>)[path]?.[method];
    if (!operation) throw new Error(`${method.toUpperCase()} ${path} is not in the OpenAPI document`);
    const documented = operation.responses[String(response.status)] as
      { content?: Record<string, { schema: Record<string, unknown> }> } | undefined;
    if (!documented) throw new Error(`${method.toUpperCase()} ${path} answered ${response.status}, which the document does not list`);
    if (!documented.content) return;
    const contentType = (response.headers['content-type'] ?? '').split(';')[0].trim();
    if (!documented.content[contentType]) {
      throw new Error(`${method.toUpperCase()} ${path} answered ${response.status} as ${contentType}, which the document does not list`);
    }
    // JSON bodies are checked against their schema; other media types (CSV, event streams) by the specs that read them.
    const schema = contentType === 'application/json' ? documented.content[contentType].schema : undefined;
    if (!schema) return;
    const validate = this.ajv.compile(resolveRefs(schema));
    if (!validate(response.body)) {
      throw new Error(
        `${method.toUpperCase()} ${url} ${response.status} does not match its schema: ${this.ajv.errorsText(validate.errors)}\n${JSON.stringify(response.body)}`,
      );
    }
  }
}

/** Points `#/components/...` references at the schema registered as "openapi". */
function resolveRefs(schema: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(schema).replace(/"#\/components\//g, '"openapi#/components/'));
}
