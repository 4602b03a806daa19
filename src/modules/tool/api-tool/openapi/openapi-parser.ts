import { lazyRequire } from '@app/common';

// Loaded with the first document, not at boot.
const swaggerParser = lazyRequire<typeof import('@apidevtools/swagger-parser')>(
  '@apidevtools/swagger-parser',
);
const yaml = lazyRequire<typeof import('yaml')>('yaml');
import type { JsonSchema, ToolInputSchema } from 'src/modules/tool/runtime/tool.types';
import {
  OpenApiDocumentError,
  type ApiToolParameter,
  type BodyType,
  type ParsedApiDocument,
  type ParsedOperation,
} from './api-tool.types';
import { LLMOPS_TYPES, SchemaBudget, SchemaTooLargeError, toJsonSchema } from './schema-convert';

/** Bounds checked before any parsing work that grows with the document. */
export const OPENAPI_LIMITS = {
  /** Characters of the document text. */
  maxChars: 1_000_000,
  /** Operations (method + path) in the document. */
  maxOperations: 200,
  /** Nesting depth of the parsed document. */
  maxDepth: 64,
  /** Schema nodes of one operation once internal $refs are expanded. */
  maxSchemaNodes: 5_000,
  maxOperationIdLength: 200,
  /** Nodes of the whole document with internal $refs expanded (the validator walks them all). */
  maxExpandedNodes: 100_000,
} as const;

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const LLMOPS_METHODS = ['get', 'post'];
const LLMOPS_LOCATIONS = ['path', 'query', 'header', 'cookie', 'request_body'];
const JSON_MEDIA = /^application\/(.+\+)?json$/i;
const FORM_MEDIA = 'application/x-www-form-urlencoded';

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** `paths./pets/{id}.get.parameters[0]`: a readable location in the document. */
function at(...parts: Array<string | number>): string {
  return parts.reduce<string>((acc, p) => {
    if (typeof p === 'number') return `${acc}[${p}]`;
    return acc ? `${acc}.${p}` : p;
  }, '');
}

function fail(path: string, reason: string): never {
  throw new OpenApiDocumentError(path, reason);
}

/**
 * Nesting of YAML flow collections (`[[[...`), counted on the text: the YAML parser recurses on
 * them and spends seconds before it overflows the stack. Quotes are followed only on one line and
 * only where a quoted scalar can start, so an apostrophe in plain text cannot hide what follows.
 */
function checkFlowDepth(text: string): void {
  let depth = 0;
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '\n') quote = '';
    else if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = '';
    } else if ((c === '"' || c === "'") && (i === 0 || /[\s:,[{]/.test(text[i - 1]))) quote = c;
    else if (c === '[' || c === '{') {
      if (++depth > OPENAPI_LIMITS.maxDepth)
        fail('', `the document is nested deeper than ${OPENAPI_LIMITS.maxDepth} levels`);
    } else if ((c === ']' || c === '}') && depth > 0) depth--;
  }
}

/** Text -> object: JSON when it looks like JSON (clearer errors), else YAML. */
function parseText(text: string): unknown {
  const trimmed = text.trim();
  if (!trimmed) fail('', 'the document is empty');
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return JSON.parse(trimmed);
    } catch (e) {
      fail('', `invalid JSON: ${(e as Error).message}`);
    }
  }
  checkFlowDepth(trimmed);
  try {
    // Alias expansion is the YAML bomb: keep it small (anchors are rare in API documents).
    return yaml().parse(trimmed, { maxAliasCount: 100, prettyErrors: false });
  } catch (e) {
    fail('', `invalid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** Depth check without recursion, so a hostile document cannot overflow the stack. */
function checkDepth(root: unknown): void {
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (typeof node !== 'object' || node === null) continue;
    if (depth > OPENAPI_LIMITS.maxDepth)
      fail('', `the document is nested deeper than ${OPENAPI_LIMITS.maxDepth} levels`);
    for (const v of Object.values(node)) stack.push([v, depth + 1]);
  }
}

/** Any `$ref` that does not point inside the document (`#/...`) is refused: we never fetch. */
function refuseExternalRefs(root: unknown): void {
  const stack: Array<[unknown, Array<string | number>]> = [[root, []]];
  while (stack.length) {
    const [node, path] = stack.pop()!;
    if (Array.isArray(node)) node.forEach((v, i) => stack.push([v, [...path, i]]));
    else if (isObject(node)) {
      const ref = node.$ref;
      if (typeof ref === 'string' && !ref.startsWith('#'))
        fail(
          at(...path, '$ref'),
          `remote $ref "${ref.slice(0, 200)}" is not allowed (only references inside the document, "#/...")`,
        );
      for (const [k, v] of Object.entries(node)) stack.push([v, [...path, k]]);
    }
  }
}

/** The target of an internal `#/a/b` reference, or undefined. */
function resolvePointer(root: unknown, ref: string): unknown {
  if (ref === '#') return root;
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    let key: string;
    try {
      key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    } catch {
      return undefined;
    }
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, key)) return undefined;
    node = (node as Json)[key];
  }
  return node;
}

/**
 * Size of the document once internal $refs are expanded, computed with one entry per reference
 * (so it is cheap): a few references nested in each other can stand for millions of nodes, which
 * the validator would walk one by one.
 */
function checkExpandedSize(root: unknown): void {
  const limit = OPENAPI_LIMITS.maxExpandedNodes;
  const memo = new Map<string, number>();
  const open = new Set<string>();
  const size = (node: unknown): number => {
    if (typeof node !== 'object' || node === null) return 1;
    const ref = (node as Json).$ref;
    if (typeof ref === 'string') {
      const known = memo.get(ref);
      if (known !== undefined) return known;
      if (open.has(ref)) return 1; // a cycle stays a reference
      open.add(ref);
      const s = size(resolvePointer(root, ref));
      open.delete(ref);
      memo.set(ref, s);
      return s;
    }
    let total = 1;
    for (const v of Object.values(node)) {
      total += size(v);
      if (total > limit) break;
    }
    return total;
  };
  if (size(root) > limit)
    fail('', `the document expands to more than ${limit} nodes once its $refs are resolved`);
}

/** Operation count, operationId shape and uniqueness, on the document as written. */
function checkOperations(paths: Json, methods: string[]): void {
  let count = 0;
  const seen = new Map<string, string>();
  for (const [p, item] of Object.entries(paths)) {
    if (!isObject(item)) continue;
    for (const m of methods) {
      const op = item[m];
      if (!isObject(op)) continue;
      if (++count > OPENAPI_LIMITS.maxOperations)
        fail('paths', `more than ${OPENAPI_LIMITS.maxOperations} operations`);
      const id = op.operationId;
      if (id === undefined) continue;
      const where = at('paths', p, m, 'operationId');
      if (typeof id !== 'string' || !id.trim())
        fail(where, 'operationId must be a non-empty string');
      if (id.length > OPENAPI_LIMITS.maxOperationIdLength)
        fail(where, `operationId is longer than ${OPENAPI_LIMITS.maxOperationIdLength} characters`);
      const first = seen.get(id);
      if (first) fail(where, `duplicate operationId "${id}" (also at ${first})`);
      seen.set(id, at('paths', p, m));
    }
  }
}

/** `#/paths/~1a/get must have ...` -> path `paths./a.get`, reason `must have ...`. */
function describeParserError(err: unknown): OpenApiDocumentError {
  const message = err instanceof Error ? err.message : String(err);
  const lines = message
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  const detail = lines.find((l) => l.startsWith('#/')) ?? lines.find((l) => l !== lines[0]);
  if (lines[0]?.startsWith('Unsupported OpenAPI version'))
    return new OpenApiDocumentError('openapi', `unsupported version: ${lines[0].slice(0, 300)}`);
  const text = detail ?? lines[0] ?? 'invalid document';
  const m = /^#(\/\S*)\s+(.*)$/.exec(text);
  if (m) {
    const parts = m[1]
      .split('/')
      .slice(1)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    return new OpenApiDocumentError(at(...parts), `invalid document: ${m[2].slice(0, 300)}`);
  }
  return new OpenApiDocumentError('', `invalid document: ${text.slice(0, 300)}`);
}

/** The first server as an absolute URL (variables replaced by their defaults). */
function serverUrl(servers: unknown, where: string): string {
  if (!Array.isArray(servers) || !isObject(servers[0]) || typeof servers[0].url !== 'string')
    fail(where, 'the document declares no server URL (add servers[0].url)');
  const server = servers[0];
  const vars = isObject(server.variables) ? server.variables : {};
  const url = str(server.url).replace(/\{([^}]+)\}/g, (_m, name: string) => {
    const v = vars[name];
    const d = isObject(v) ? v.default : undefined;
    return typeof d === 'string' || typeof d === 'number' ? String(d) : '';
  });
  return absoluteUrl(url, at(where, 0, 'url'));
}

function absoluteUrl(url: string, where: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    fail(where, `the server URL "${url.slice(0, 200)}" must be an absolute http(s) URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    fail(where, `the server URL "${url.slice(0, 200)}" must be an http(s) URL`);
  return url.replace(/\/+$/, '');
}

interface RawParam {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required: boolean;
  description: string;
  schema: JsonSchema;
}
interface RawBody {
  required: boolean;
  contentType: string;
  description: string;
  schema: JsonSchema;
}

/** Parameters and input schema of one operation; a JSON object body is flattened when it can be. */
function assemble(
  params: RawParam[],
  body: RawBody | null,
): Pick<ParsedOperation, 'parameters' | 'input_schema' | 'body_type' | 'body_content_type'> {
  const used = new Set<string>();
  const argName = (wanted: string[]): string => {
    for (const w of wanted) if (!used.has(w)) return (used.add(w), w);
    let i = 2;
    while (used.has(`${wanted[0]}_${i}`)) i++;
    const name = `${wanted[0]}_${i}`;
    used.add(name);
    return name;
  };
  const parameters: ApiToolParameter[] = params.map((p) => ({
    name: p.name,
    arg: argName([p.name, `${p.in}_${p.name}`]),
    in: p.in,
    required: p.required,
    description: p.description,
    schema: p.schema,
  }));
  let body_type: BodyType = '';
  if (body) {
    const props = isObject(body.schema.properties) ? body.schema.properties : null;
    const isObjectSchema =
      body.schema.type === 'object' || (body.schema.type === undefined && props !== null);
    // readOnly properties are answers, not inputs: they neither become arguments nor collide.
    const names = props
      ? Object.keys(props).filter((n) => (props[n] as JsonSchema).readOnly !== true)
      : [];
    const flat =
      isObjectSchema &&
      names.length > 0 &&
      body.contentType !== 'text/plain' &&
      names.every((n) => !used.has(n));
    if (flat) {
      body_type = 'properties';
      const required = new Set(
        Array.isArray(body.schema.required) ? (body.schema.required as string[]) : [],
      );
      for (const n of names) {
        const schema = props![n] as JsonSchema;
        parameters.push({
          name: n,
          arg: argName([n]),
          in: 'body',
          required: body.required && required.has(n),
          description: str(schema.description),
          schema,
        });
      }
    } else {
      body_type = 'value';
      parameters.push({
        name: 'body',
        arg: argName(['body', 'request_body']),
        in: 'body',
        required: body.required,
        description: body.description || 'The request body',
        schema: body.schema,
      });
    }
  }
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const p of parameters) {
    properties[p.arg] =
      p.description && !p.schema.description
        ? { ...p.schema, description: p.description }
        : p.schema;
    if (p.required) required.push(p.arg);
  }
  // No `$schema`: model APIs receive this schema as function parameters, and some refuse
  // keywords they do not know; the draft-07 checks read 3.1 schemas well enough for arguments.
  const input_schema: ToolInputSchema = {
    type: 'object',
    properties,
    required,
    additionalProperties: false,
  };
  return {
    parameters,
    input_schema,
    body_type,
    body_content_type: body_type ? body!.contentType : '',
  };
}

function convertSchema(schema: unknown, budget: SchemaBudget, where: string): JsonSchema {
  try {
    return toJsonSchema(schema, budget);
  } catch (e) {
    if (e instanceof SchemaTooLargeError)
      fail(
        where,
        `the schemas of this operation expand to more than ${OPENAPI_LIMITS.maxSchemaNodes} nodes`,
      );
    throw e;
  }
}

/** Path-level parameters overridden by operation-level ones with the same name and location. */
function mergedParameters(item: Json, op: Json): Json[] {
  const all = [
    ...(Array.isArray(item.parameters) ? item.parameters : []),
    ...(Array.isArray(op.parameters) ? op.parameters : []),
  ].filter(isObject);
  const byKey = new Map<string, Json>();
  for (const p of all) byKey.set(`${str(p.in)}:${str(p.name)}`, p);
  return [...byKey.values()];
}

const PARAM_KEYWORDS_V2 = [
  'type',
  'format',
  'items',
  'enum',
  'default',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'uniqueItems',
  'multipleOf',
];

function v2ParamSchema(p: Json): Json {
  const s: Json = {};
  for (const k of PARAM_KEYWORDS_V2) if (p[k] !== undefined) s[k] = p[k];
  if (s.type === 'file') s.type = 'string';
  return s;
}

function chooseMedia(content: Json): [string, Json] | null {
  const types = Object.keys(content);
  const pick =
    types.find((t) => JSON_MEDIA.test(t)) ??
    types.find((t) => t === '*/*') ??
    types.find((t) => t === FORM_MEDIA) ??
    types.find((t) => t.startsWith('text/plain'));
  if (!pick) return null;
  const media = isObject(content[pick]) ? content[pick] : {};
  const contentType = JSON_MEDIA.test(pick) || pick === '*/*' ? 'application/json' : pick;
  return [contentType.startsWith('text/plain') ? 'text/plain' : contentType, media];
}

function fromOpenApi(api: Json, version: '2.0' | '3.0' | '3.1'): ParsedApiDocument {
  const info = isObject(api.info) ? api.info : {};
  const paths = isObject(api.paths) ? api.paths : {};
  const operations: ParsedOperation[] = [];
  const v2 = version === '2.0';
  let v2Server = '';
  if (v2) {
    if (typeof api.host !== 'string' || !api.host)
      fail(
        'host',
        'the document declares no server (add host, and schemes and basePath if needed)',
      );
    const schemes = Array.isArray(api.schemes) ? (api.schemes as string[]) : [];
    const scheme = schemes.includes('https') ? 'https' : (schemes[0] ?? 'https');
    v2Server = absoluteUrl(`${scheme}://${api.host}${str(api.basePath)}`, 'host');
  }
  for (const [p, rawItem] of Object.entries(paths)) {
    if (!isObject(rawItem)) continue;
    const item = rawItem;
    // Document order, so the tools list as the author wrote them.
    for (const method of Object.keys(item).filter((k) => HTTP_METHODS.includes(k))) {
      const op = item[method];
      if (!isObject(op) || typeof op.operationId !== 'string') continue;
      const where = at('paths', p, method);
      const budget = new SchemaBudget(OPENAPI_LIMITS.maxSchemaNodes);
      let server = v2Server;
      if (!v2) {
        const servers = [op.servers, item.servers, api.servers].find(
          (s) => Array.isArray(s) && s.length > 0,
        );
        server = serverUrl(
          servers,
          servers === api.servers || !servers ? 'servers' : `${where}.servers`,
        );
      }
      const params: RawParam[] = [];
      let body: RawBody | null = null;
      const formData: Json[] = [];
      mergedParameters(item, op).forEach((raw, i) => {
        const loc = str(raw.in);
        const pWhere = at(where, 'parameters', i);
        if (v2 && loc === 'body') {
          // Swagger 2.0 body parameters are sent as JSON (the only body `consumes` we support).
          body = {
            required: raw.required === true,
            contentType: 'application/json',
            description: str(raw.description),
            schema: convertSchema(raw.schema, budget, pWhere),
          };
          return;
        }
        if (v2 && loc === 'formData') {
          formData.push(raw);
          return;
        }
        if (!['path', 'query', 'header', 'cookie'].includes(loc)) return;
        let schema: unknown = v2 ? v2ParamSchema(raw) : raw.schema;
        if (!v2 && schema === undefined && isObject(raw.content)) {
          const media = chooseMedia(raw.content);
          schema = media?.[1].schema;
        }
        params.push({
          name: str(raw.name),
          in: loc as RawParam['in'],
          required: loc === 'path' || raw.required === true,
          description: str(raw.description),
          schema: schema === undefined ? { type: 'string' } : convertSchema(schema, budget, pWhere),
        });
      });
      if (v2 && formData.length) {
        const properties: Json = {};
        const required: string[] = [];
        for (const f of formData) {
          properties[str(f.name)] = {
            ...v2ParamSchema(f),
            ...(f.description ? { description: f.description } : {}),
          };
          if (f.required === true) required.push(str(f.name));
        }
        body = {
          required: required.length > 0,
          contentType: FORM_MEDIA,
          description: '',
          schema: convertSchema({ type: 'object', properties, required }, budget, where),
        };
      }
      if (!v2 && isObject(op.requestBody) && isObject(op.requestBody.content)) {
        const media = chooseMedia(op.requestBody.content);
        if (media)
          body = {
            required: op.requestBody.required === true,
            contentType: media[0],
            description: str(op.requestBody.description),
            schema: convertSchema(media[1].schema ?? {}, budget, at(where, 'requestBody')),
          };
      }
      operations.push({
        name: op.operationId,
        description: str(op.description) || str(op.summary),
        method: method.toUpperCase(),
        server_url: server,
        path: p,
        ...assemble(params, body),
      });
    }
  }
  if (!operations.length) fail('paths', 'no operation has an operationId, so there are no tools');
  return {
    format: v2 ? 'swagger-2.0' : version === '3.1' ? 'openapi-3.1' : 'openapi-3.0',
    description: str(api.description) || str(info.description) || str(info.title),
    operations,
  };
}

/**
 * The original LLMOps format (CONSOLE-SHAPES §1.5): `server`, `description`, `paths` with get and
 * post operations whose parameters carry `in` (path|query|header|cookie|request_body) and `type`
 * (str|int|float|bool).
 */
function fromLlmops(doc: Json): ParsedApiDocument {
  if (typeof doc.server !== 'string' || !doc.server.trim())
    fail('server', 'server must be a non-empty string (the API base URL)');
  const server = absoluteUrl(doc.server.trim(), 'server');
  if (typeof doc.description !== 'string' || !doc.description.trim())
    fail('description', 'description must be a non-empty string');
  const paths = doc.paths as Json;
  const operations: ParsedOperation[] = [];
  for (const [p, item] of Object.entries(paths)) {
    if (!isObject(item)) fail(at('paths', p), 'a path must map methods to operations');
    for (const method of LLMOPS_METHODS) {
      const op = item[method];
      if (op === undefined) continue;
      const where = at('paths', p, method);
      if (!isObject(op)) fail(where, 'an operation must be an object');
      if (typeof op.description !== 'string')
        fail(at(where, 'description'), 'description must be a string');
      if (typeof op.operationId !== 'string' || !op.operationId)
        fail(at(where, 'operationId'), 'operationId must be a non-empty string');
      if (op.parameters !== undefined && !Array.isArray(op.parameters))
        fail(at(where, 'parameters'), 'parameters must be an array');
      const params: RawParam[] = [];
      const bodyProps: Record<string, JsonSchema> = {};
      const bodyRequired: string[] = [];
      ((op.parameters as unknown[] | undefined) ?? []).forEach((raw, i) => {
        const pw = at(where, 'parameters', i);
        if (!isObject(raw)) fail(pw, 'a parameter must be an object');
        if (typeof raw.name !== 'string' || !raw.name)
          fail(at(pw, 'name'), 'name must be a non-empty string');
        if (typeof raw.description !== 'string')
          fail(at(pw, 'description'), 'description must be a string');
        if (typeof raw.required !== 'boolean')
          fail(at(pw, 'required'), 'required must be true or false');
        if (!LLMOPS_LOCATIONS.includes(str(raw.in)))
          fail(at(pw, 'in'), `in must be one of ${LLMOPS_LOCATIONS.join(', ')}`);
        const type = LLMOPS_TYPES[str(raw.type)];
        if (!type)
          fail(at(pw, 'type'), `type must be one of ${Object.keys(LLMOPS_TYPES).join(', ')}`);
        const schema: JsonSchema = { type };
        if (raw.in === 'request_body') {
          bodyProps[raw.name] = raw.description
            ? { ...schema, description: raw.description }
            : schema;
          if (raw.required) bodyRequired.push(raw.name);
        } else
          params.push({
            name: raw.name,
            in: raw.in as RawParam['in'],
            required: raw.in === 'path' || raw.required,
            description: raw.description,
            schema,
          });
      });
      const body: RawBody | null = Object.keys(bodyProps).length
        ? {
            required: bodyRequired.length > 0,
            contentType: 'application/json',
            description: '',
            schema: { type: 'object', properties: bodyProps, required: bodyRequired },
          }
        : null;
      operations.push({
        name: op.operationId,
        description: op.description,
        method: method.toUpperCase(),
        server_url: server,
        path: p,
        ...assemble(params, body),
      });
    }
  }
  if (!operations.length) fail('paths', 'no get or post operation');
  return { format: 'llmops', description: doc.description.trim(), operations };
}

/**
 * Parses an API description given as text: OpenAPI 3.0/3.1 or Swagger 2.0 (JSON or YAML),
 * validated and internally dereferenced by swagger-parser with every resolver that could reach
 * out turned off, or the original LLMOps format. Throws OpenApiDocumentError naming the path.
 */
export async function parseApiDocument(text: string): Promise<ParsedApiDocument> {
  if (text.length > OPENAPI_LIMITS.maxChars)
    fail('', `the document is larger than ${OPENAPI_LIMITS.maxChars} characters`);
  const doc = parseText(text);
  if (!isObject(doc)) fail('', 'the document must be an object');
  checkDepth(doc);
  const declared = doc.openapi ?? doc.swagger;
  if (typeof declared === 'number')
    fail(
      doc.openapi !== undefined ? 'openapi' : 'swagger',
      `the version must be a string such as "3.0.3" or "2.0", not the number ${declared} (quote it in YAML)`,
    );
  let version: '2.0' | '3.0' | '3.1' | 'llmops';
  if (doc.swagger !== undefined) {
    if (doc.swagger !== '2.0')
      fail(
        'swagger',
        `unsupported version ${JSON.stringify(declared)} (use Swagger 2.0, OpenAPI 3.0 or 3.1)`,
      );
    version = '2.0';
  } else if (doc.openapi !== undefined) {
    const v = typeof doc.openapi === 'string' ? /^3\.(0|1)\.\d+$/.exec(doc.openapi) : null;
    if (!v)
      fail(
        'openapi',
        `unsupported version ${JSON.stringify(declared)} (use OpenAPI 3.0, 3.1 or Swagger 2.0)`,
      );
    version = v[1] === '0' ? '3.0' : '3.1';
  } else if ('server' in doc || 'paths' in doc) version = 'llmops';
  else fail('openapi', 'unsupported document: no "openapi" or "swagger" version field');
  if (!isObject(doc.paths) || !Object.keys(doc.paths).length)
    fail('paths', 'the document has no paths');
  refuseExternalRefs(doc);
  checkOperations(doc.paths, version === 'llmops' ? LLMOPS_METHODS : HTTP_METHODS);
  if (version === 'llmops') return fromLlmops(doc);
  checkExpandedSize(doc);

  let api: Json;
  try {
    api = (await new (swaggerParser())().validate(doc as never, {
      // Nothing outside the document is ever read: no files, no URLs.
      resolve: { external: false, file: false, http: false },
      dereference: { circular: true },
    })) as unknown as Json;
  } catch (e) {
    throw describeParserError(e);
  }
  return fromOpenApi(api, version);
}
