import { applyDecorators, Type } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, getSchemaPath } from '@nestjs/swagger';
// A plain OpenAPI schema object (the package does not export its type).
type SchemaObject = Record<string, unknown>;
import { EnvelopeDto } from './envelope';
import { PaginatorDto } from './pagination';

export interface ApiEnvelopeOptions {
  /** `data` is `{list, paginator}` of the model. */
  paginated?: boolean;
  /** `data` is a plain array of the model. */
  isArray?: boolean;
  description?: string;
}

/**
 * Documents a console answer: HTTP 200, `{code, message, data}`, with `data` described by the
 * model. Integrators read `code`, not the status.
 */
export function ApiEnvelope(
  model?: Type<unknown>,
  opts: ApiEnvelopeOptions = {},
): MethodDecorator & ClassDecorator {
  const ref: SchemaObject = model ? { $ref: getSchemaPath(model) } : { type: 'object' };
  let data: SchemaObject = ref;
  if (opts.isArray) data = { type: 'array', items: ref };
  if (opts.paginated) {
    data = {
      type: 'object',
      properties: {
        list: { type: 'array', items: ref },
        paginator: { $ref: getSchemaPath(PaginatorDto) },
      },
      required: ['list', 'paginator'],
    };
  }
  const models: Type<unknown>[] = [EnvelopeDto, PaginatorDto, ...(model ? [model] : [])];
  return applyDecorators(
    ApiExtraModels(...models),
    ApiOkResponse({
      description:
        opts.description ?? 'Envelope; `code` is `success` or an error code (HTTP stays 200)',
      schema: { allOf: [{ $ref: getSchemaPath(EnvelopeDto) }, { properties: { data } }] },
    }),
  );
}
