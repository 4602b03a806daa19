import type { JsonSchema, ToolInputSchema } from 'src/modules/tool/runtime/tool.types';

/** Where a parameter goes on the wire. `body` is a property of (or the whole) request body. */
export const PARAMETER_LOCATIONS = ['path', 'query', 'header', 'cookie', 'body'] as const;
export type ParameterLocation = (typeof PARAMETER_LOCATIONS)[number];

/** One argument of an API tool, as stored (the console's `inputs` are these minus `in`). */
export interface ApiToolParameter {
  /** The name on the wire (path template, query key, header name, body property). */
  name: string;
  /** The argument name in the tool's input schema; differs from `name` only on a clash. */
  arg: string;
  in: ParameterLocation;
  required: boolean;
  description: string;
  /** JSON Schema of the value ($refs expanded, OpenAPI-only keywords removed). */
  schema: JsonSchema;
}

/**
 * How the request body is built: `properties` from the body parameters (an object), `value` from
 * the one body argument as a whole, `''` when the operation takes no body.
 */
export type BodyType = '' | 'properties' | 'value';

export interface ParsedOperation {
  /** The operationId. */
  name: string;
  description: string;
  /** Upper-case HTTP method. */
  method: string;
  /** Absolute http(s) URL, server variables substituted, no trailing slash. */
  server_url: string;
  /** The path template as in the document, e.g. `/pets/{id}`. */
  path: string;
  parameters: ApiToolParameter[];
  input_schema: ToolInputSchema;
  body_type: BodyType;
  /** Media type of the body: `application/json`, `application/x-www-form-urlencoded`, `text/plain`. */
  body_content_type: string;
}

export type ApiDocumentFormat = 'openapi-3.0' | 'openapi-3.1' | 'swagger-2.0' | 'llmops';

export interface ParsedApiDocument {
  format: ApiDocumentFormat;
  /** The document's top-level `description`, else `info.description`, else `info.title`. */
  description: string;
  operations: ParsedOperation[];
}

/** A document we refuse; `path` names where (`paths./pets.get.operationId`), `message` says why. */
export class OpenApiDocumentError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(path ? `${path}: ${reason}` : reason);
    this.name = 'OpenApiDocumentError';
  }
}
