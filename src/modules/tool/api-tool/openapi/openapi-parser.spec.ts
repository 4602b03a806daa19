import YAML from 'yaml';
import { OpenApiDocumentError, type ParsedApiDocument } from './api-tool.types';
import { OPENAPI_LIMITS, parseApiDocument } from './openapi-parser';
import { pythonTypeOf } from './schema-convert';
import { ToolArgsValidator } from 'src/modules/tool/runtime/tool-args.validator';

const validator = new ToolArgsValidator();

const v30 = (extra: Record<string, unknown> = {}) => ({
  openapi: '3.0.3',
  info: { title: 'Pets', version: '1', description: 'A pet store' },
  servers: [{ url: 'https://{host}/v1/', variables: { host: { default: 'api.example.com' } } }],
  paths: {
    '/pets/{id}': {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
      get: {
        operationId: 'getPet',
        summary: 'One pet',
        parameters: [
          { name: 'verbose', in: 'query', schema: { type: 'boolean' }, description: 'More' },
          { name: 'X-Trace', in: 'header', schema: { type: 'string', nullable: true } },
          { name: 'session', in: 'cookie', schema: { type: 'string' } },
        ],
        responses: { '200': { description: 'ok' } },
      },
      put: {
        operationId: 'updatePet',
        description: 'Replace a pet',
        requestBody: {
          required: true,
          content: {
            'application/json': { schema: { $ref: '#/components/schemas/Pet' } },
          },
        },
        responses: { '200': { description: 'ok' } },
      },
    },
    '/pets': {
      post: {
        operationId: 'createPets',
        requestBody: {
          content: {
            'application/json': {
              schema: { type: 'array', items: { $ref: '#/components/schemas/Pet' } },
            },
          },
        },
        responses: { '201': { description: 'created' } },
      },
      get: { responses: { '200': { description: 'no operationId: not a tool' } } },
    },
  },
  components: {
    schemas: {
      Pet: {
        type: 'object',
        required: ['name'],
        properties: {
          id: { type: 'integer', readOnly: true },
          name: { type: 'string', example: 'Rex', 'x-internal': 1 },
          tag: { type: 'string', format: 'weird-format' },
          parent: { $ref: '#/components/schemas/Pet' },
        },
      },
    },
  },
  ...extra,
});

async function rejects(doc: unknown, pathPart: string, reasonPart: RegExp): Promise<void> {
  const text = typeof doc === 'string' ? doc : JSON.stringify(doc);
  const err = await parseApiDocument(text).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OpenApiDocumentError);
  const e = err as OpenApiDocumentError;
  expect(e.path).toContain(pathPart);
  expect(e.reason).toMatch(reasonPart);
}

const op = (doc: ParsedApiDocument, name: string) => {
  const found = doc.operations.find((o) => o.name === name);
  if (!found) throw new Error(`no operation ${name}`);
  return found;
};

describe('parseApiDocument', () => {
  it('reads OpenAPI 3.0 JSON: every operationId, merged parameters, $refs expanded', async () => {
    const doc = await parseApiDocument(JSON.stringify(v30()));
    expect(doc.format).toBe('openapi-3.0');
    expect(doc.description).toBe('A pet store');
    expect(doc.operations.map((o) => `${o.method} ${o.name}`).sort()).toEqual([
      'GET getPet',
      'POST createPets',
      'PUT updatePet',
    ]);
    const get = op(doc, 'getPet');
    expect(get.server_url).toBe('https://api.example.com/v1');
    expect(get.description).toBe('One pet');
    expect(get.parameters.map((p) => `${p.in}:${p.name}:${p.required}`)).toEqual([
      'path:id:true',
      'query:verbose:false',
      'header:X-Trace:false',
      'cookie:session:false',
    ]);
    expect(get.input_schema.properties['X-Trace']).toEqual({ type: ['string', 'null'] });
    expect(get.input_schema.properties.verbose).toEqual({ type: 'boolean', description: 'More' });
    expect(get.input_schema.required).toEqual(['id']);
    expect(get.body_type).toBe('');

    // An object body is flattened; readOnly properties are not inputs; the cycle becomes {}.
    const put = op(doc, 'updatePet');
    expect(put.body_type).toBe('properties');
    expect(put.body_content_type).toBe('application/json');
    expect(put.parameters.filter((p) => p.in === 'body').map((p) => p.name)).toEqual([
      'name',
      'tag',
      'parent',
    ]);
    expect(put.input_schema.required).toEqual(['id', 'name']);
    expect(put.input_schema.properties.name).toEqual({ type: 'string' });
    expect(put.input_schema.properties.tag).toEqual({ type: 'string' });
    expect(put.input_schema.properties.parent).toEqual({}); // Pet inside Pet: any value
    expect(JSON.stringify(put.input_schema)).not.toContain('$ref');

    // An array body is one `body` argument.
    const post = op(doc, 'createPets');
    expect(post.body_type).toBe('value');
    expect(post.parameters).toEqual([
      expect.objectContaining({ name: 'body', arg: 'body', in: 'body', required: false }),
    ]);
    expect(post.input_schema.properties.body).toMatchObject({ type: 'array' });
    for (const o of doc.operations) expect(validator.schemaProblem(o.input_schema)).toBeNull();
    expect(validator.check(get.input_schema, { id: 1, 'X-Trace': null }).ok).toBe(true);
  });

  it('reads OpenAPI 3.1 YAML with type arrays', async () => {
    const doc = v30({ openapi: '3.1.0' });
    const pet = doc.components.schemas.Pet.properties;
    (pet.tag as Record<string, unknown>).type = ['string', 'null'];
    const parsed = await parseApiDocument(YAML.stringify(doc));
    expect(parsed.format).toBe('openapi-3.1');
    const put = op(parsed, 'updatePet');
    expect(put.input_schema.$schema).toBeUndefined();
    expect(put.input_schema.properties.tag).toEqual({ type: ['string', 'null'] });
  });

  it('turns draft-04 exclusive bounds (OpenAPI 3.0) into JSON Schema numbers', async () => {
    const doc = v30();
    Object.assign(doc.components.schemas.Pet.properties, {
      age: { type: 'integer', minimum: 0, exclusiveMinimum: true, maximum: 30 },
      weight: { type: 'number', maximum: 99, exclusiveMaximum: false },
    });
    const put = op(await parseApiDocument(JSON.stringify(doc)), 'updatePet');
    expect(put.input_schema.properties.age).toEqual({
      type: 'integer',
      exclusiveMinimum: 0,
      maximum: 30,
    });
    expect(put.input_schema.properties.weight).toEqual({ type: 'number', maximum: 99 });
    expect(validator.schemaProblem(put.input_schema)).toBeNull();
    expect(validator.check(put.input_schema, { id: 1, name: 'a', age: 0 }).errors).toHaveProperty(
      'age',
    );
  });

  it('keeps the body as one argument when a property collides with a parameter', async () => {
    const doc = v30();
    doc.components.schemas.Pet.properties.id = { type: 'integer', readOnly: false };
    const put = op(await parseApiDocument(JSON.stringify(doc)), 'updatePet');
    expect(put.body_type).toBe('value');
    expect(put.parameters.map((p) => `${p.in}:${p.arg}`)).toEqual(['path:id', 'body:body']);
  });

  it('names a clashing parameter after its location', async () => {
    const doc = v30();
    (doc.paths['/pets/{id}'].get.parameters as unknown[]).push({
      name: 'id',
      in: 'query',
      schema: { type: 'string' },
    });
    const get = op(await parseApiDocument(JSON.stringify(doc)), 'getPet');
    expect(get.parameters.filter((p) => p.name === 'id').map((p) => p.arg)).toEqual([
      'id',
      'query_id',
    ]);
  });

  it('reads Swagger 2.0: host + basePath, body and formData parameters', async () => {
    const doc = {
      swagger: '2.0',
      info: { title: 'Old', version: '1' },
      host: 'old.example.com:8080',
      basePath: '/api',
      schemes: ['http'],
      paths: {
        '/items/{id}': {
          patch: {
            operationId: 'patchItem',
            parameters: [
              { name: 'id', in: 'path', required: true, type: 'string' },
              { name: 'dry', in: 'query', type: 'boolean' },
              {
                name: 'payload',
                in: 'body',
                required: true,
                schema: { $ref: '#/definitions/Item' },
              },
            ],
            responses: { '200': { description: 'ok' } },
          },
        },
        '/forms': {
          post: {
            operationId: 'sendForm',
            consumes: ['application/x-www-form-urlencoded'],
            parameters: [
              { name: 'title', in: 'formData', type: 'string', required: true },
              { name: 'count', in: 'formData', type: 'integer' },
            ],
            responses: { '200': { description: 'ok' } },
          },
        },
      },
      definitions: {
        Item: { type: 'object', properties: { title: { type: 'string' }, n: { type: 'number' } } },
      },
    };
    const parsed = await parseApiDocument(JSON.stringify(doc));
    expect(parsed.format).toBe('swagger-2.0');
    expect(parsed.description).toBe('Old');
    const patch = op(parsed, 'patchItem');
    expect(patch.server_url).toBe('http://old.example.com:8080/api');
    expect(patch.body_type).toBe('properties');
    expect(patch.parameters.map((p) => `${p.in}:${p.name}`)).toEqual([
      'path:id',
      'query:dry',
      'body:title',
      'body:n',
    ]);
    const form = op(parsed, 'sendForm');
    expect(form.body_content_type).toBe('application/x-www-form-urlencoded');
    expect(form.input_schema.required).toEqual(['title']);
    expect(pythonTypeOf(form.input_schema.properties.count)).toBe('int');
  });

  it('reads the original LLMOps format', async () => {
    const doc = {
      server: 'https://llmops.example.com',
      description: 'Legacy tools',
      paths: {
        '/weather': {
          get: {
            description: 'Weather of a city',
            operationId: 'weather',
            parameters: [
              { name: 'city', in: 'query', description: 'City', required: true, type: 'str' },
            ],
          },
          post: {
            description: 'Report',
            operationId: 'report',
            parameters: [
              { name: 'temp', in: 'request_body', description: 'T', required: true, type: 'float' },
              { name: 'ok', in: 'request_body', description: '', required: false, type: 'bool' },
              { name: 'X-Key', in: 'header', description: '', required: false, type: 'int' },
            ],
          },
        },
      },
    };
    const parsed = await parseApiDocument(JSON.stringify(doc));
    expect(parsed.format).toBe('llmops');
    expect(parsed.description).toBe('Legacy tools');
    expect(parsed.operations.map((o) => `${o.method} ${o.name}`)).toEqual([
      'GET weather',
      'POST report',
    ]);
    const report = op(parsed, 'report');
    expect(report.body_type).toBe('properties');
    expect(report.parameters.map((p) => `${p.in}:${p.name}:${pythonTypeOf(p.schema)}`)).toEqual([
      'header:X-Key:int',
      'body:temp:float',
      'body:ok:bool',
    ]);
    expect(report.input_schema.required).toEqual(['temp']);
  });

  describe('refuses, naming the path', () => {
    it('invalid JSON and YAML', async () => {
      await rejects('{"openapi": ', '', /invalid JSON/);
      await rejects('openapi: [3.0\n  bad: : :', '', /invalid YAML/);
      await rejects('"just a string"', '', /must be an object/);
    });
    it('missing or empty paths', async () => {
      const { paths: _p, ...noPaths } = v30();
      await rejects(noPaths, 'paths', /no paths/);
      await rejects(v30({ paths: {} }), 'paths', /no paths/);
    });
    it('duplicate operationIds', async () => {
      const doc = v30();
      (doc.paths['/pets'].get as Record<string, unknown>).operationId = 'getPet';
      await rejects(doc, 'paths./pets.get.operationId', /duplicate operationId "getPet"/);
    });
    it('no servers', async () => {
      const { servers: _s, ...doc } = v30();
      await rejects(doc, 'servers', /no server URL/);
      await rejects(v30({ servers: [{ url: '/relative' }] }), 'servers[0].url', /absolute/);
      const paths = {
        '/a': { get: { operationId: 'a', responses: { '200': { description: 'k' } } } },
      };
      await rejects(
        { swagger: '2.0', info: { title: 't', version: '1' }, paths },
        'host',
        /no server/,
      );
    });
    it('unsupported versions', async () => {
      await rejects(v30({ openapi: '3.2.0' }), 'openapi', /unsupported version "3.2.0"/);
      await rejects(v30({ openapi: 3 }), 'openapi', /must be a string .* not the number 3/);
      await rejects('swagger: 2.0\npaths: {}', 'swagger', /quote it in YAML/);
      await rejects(v30({ openapi: '3.0.9' }), 'openapi', /unsupported version.*3\.0\.9/);
      await rejects({ swagger: '1.2', paths: {} }, 'swagger', /unsupported version/);
      await rejects({ info: {} }, 'openapi', /no "openapi" or "swagger"/);
    });
    it('an invalid document (swagger-parser)', async () => {
      const doc = v30();
      delete (doc.paths['/pets/{id}'].get as Record<string, unknown>).responses;
      await rejects(doc, 'paths./pets/{id}.get', /invalid document: .*responses/);
    });
    it('a remote or file $ref, without fetching it', async () => {
      const doc = v30();
      doc.components.schemas.Pet.properties.tag = { $ref: 'http://127.0.0.1:9/evil.json' } as never;
      await rejects(
        doc,
        'components.schemas.Pet.properties.tag.$ref',
        /remote \$ref "http:\/\/127\.0\.0\.1:9\/evil\.json" is not allowed/,
      );
      const doc2 = v30();
      doc2.components.schemas.Pet.properties.tag = { $ref: '/etc/passwd#/x' } as never;
      await rejects(doc2, 'tag.$ref', /not allowed/);
    });
    it('LLMOps documents breaking its rules', async () => {
      const base = {
        server: 'https://x.example.com',
        description: 'd',
        paths: {
          '/a': {
            get: {
              description: 'a',
              operationId: 'a',
              parameters: [
                { name: 'q', in: 'query', description: '', required: true, type: 'str' },
              ],
            },
          },
        },
      };
      await rejects({ ...base, server: '' }, 'server', /non-empty/);
      await rejects({ ...base, description: 5 }, 'description', /non-empty/);
      const badType = structuredClone(base);
      (badType.paths['/a'].get.parameters[0] as Record<string, unknown>).type = 'string';
      await rejects(badType, 'paths./a.get.parameters[0].type', /str, int, float, bool/);
      const badIn = structuredClone(base);
      (badIn.paths['/a'].get.parameters[0] as Record<string, unknown>).in = 'body';
      await rejects(badIn, 'parameters[0].in', /request_body/);
    });
    it('documents over the bounds', async () => {
      await rejects(`{"x": "${'a'.repeat(OPENAPI_LIMITS.maxChars)}"}`, '', /larger than/);
      let deep: unknown = {};
      for (let i = 0; i < OPENAPI_LIMITS.maxDepth + 5; i++) deep = { a: deep };
      await rejects(v30({ 'x-deep': deep }), '', /deeper than/);
      // YAML flow nesting is refused before the YAML parser recurses into it.
      const started = Date.now();
      await rejects(`a: ${'['.repeat(500_000)}`, '', /deeper than/);
      await rejects(`a: it's\nb: ${'{'.repeat(100)}`, '', /deeper than/);
      expect(Date.now() - started).toBeLessThan(1000);
      // Brackets inside quoted strings do not count.
      await expect(
        parseApiDocument(YAML.stringify(v30({ 'x-note': '['.repeat(100) }))),
      ).resolves.toBeDefined();
      const paths: Record<string, unknown> = {};
      for (let i = 0; i <= OPENAPI_LIMITS.maxOperations; i++)
        paths[`/p${i}`] = {
          get: { operationId: `op${i}`, responses: { '200': { description: 'k' } } },
        };
      await rejects(v30({ paths }), 'paths', /more than 200 operations/);
    });
    it('a $ref fan-out that would explode once expanded', async () => {
      const schemas: Record<string, unknown> = { L0: { type: 'string' } };
      for (let i = 1; i <= 5; i++) {
        const props: Record<string, unknown> = {};
        for (let j = 0; j < 6; j++) props[`p${j}`] = { $ref: `#/components/schemas/L${i - 1}` };
        schemas[`L${i}`] = { type: 'object', properties: props };
      }
      const doc = v30();
      Object.assign(doc.components.schemas, schemas);
      (doc.paths['/pets/{id}'].put.requestBody.content['application/json'].schema as unknown) = {
        $ref: '#/components/schemas/L5',
      };
      await rejects(doc, 'paths./pets/{id}.put', /more than 5000 nodes/);
    });
    it('a document that expands past the whole-document bound, before validating it', async () => {
      const schemas: Record<string, unknown> = { L0: { type: 'string' } };
      for (let i = 1; i <= 12; i++) {
        const props: Record<string, unknown> = {};
        for (let j = 0; j < 8; j++) props[`p${j}`] = { $ref: `#/components/schemas/L${i - 1}` };
        schemas[`L${i}`] = { type: 'object', properties: props };
      }
      const doc = v30();
      Object.assign(doc.components.schemas, schemas);
      const started = Date.now();
      await rejects(doc, '', /expands to more than/);
      expect(Date.now() - started).toBeLessThan(2000);
    });
  });
});
