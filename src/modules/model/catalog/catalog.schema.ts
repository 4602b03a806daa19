import { z } from 'zod';

/** Reusable parameter definitions; a catalog entry `{use_template: 'temperature', max: 1}` overrides fields. */
export const PARAMETER_TEMPLATES = {
  temperature: {
    name: 'temperature',
    label: 'Temperature',
    type: 'float',
    help: 'Randomness of the output: lower is more focused and deterministic, higher more varied.',
    required: false,
    default: 1,
    min: 0,
    max: 2,
    precision: 2,
    options: [],
  },
  top_p: {
    name: 'top_p',
    label: 'Top P',
    type: 'float',
    help: 'Nucleus sampling: only tokens within this cumulative probability are considered.',
    required: false,
    default: 1,
    min: 0,
    max: 1,
    precision: 2,
    options: [],
  },
  presence_penalty: {
    name: 'presence_penalty',
    label: 'Presence penalty',
    type: 'float',
    help: 'Positive values push the model towards new topics.',
    required: false,
    default: 0,
    min: -2,
    max: 2,
    precision: 2,
    options: [],
  },
  frequency_penalty: {
    name: 'frequency_penalty',
    label: 'Frequency penalty',
    type: 'float',
    help: 'Positive values discourage repeating the same words.',
    required: false,
    default: 0,
    min: -2,
    max: 2,
    precision: 2,
    options: [],
  },
  max_tokens: {
    name: 'max_tokens',
    label: 'Max tokens',
    type: 'int',
    help: 'Upper bound of tokens generated for one answer.',
    required: false,
    default: 4096,
    min: 1,
    max: 4096,
    precision: 0,
    options: [],
  },
} as const;
export type TemplateName = keyof typeof PARAMETER_TEMPLATES;

const parameterSchema = z.object({
  name: z.string().regex(/^[a-z_][a-z0-9_]*$/),
  label: z.string(),
  type: z.enum(['float', 'int', 'string', 'boolean']),
  help: z.string().default(''),
  required: z.boolean().default(false),
  default: z.union([z.number(), z.string(), z.boolean(), z.null()]).default(null),
  min: z.number().nullable().default(null),
  max: z.number().nullable().default(null),
  precision: z.number().int().min(0).max(6).default(2),
  options: z
    .array(z.object({ label: z.string(), value: z.union([z.string(), z.number()]) }))
    .default([]),
});
export type ModelParameter = z.output<typeof parameterSchema>;

const parameterEntry = z.union([
  z
    .object({
      use_template: z.enum(Object.keys(PARAMETER_TEMPLATES) as [TemplateName, ...TemplateName[]]),
    })
    .loose(),
  parameterSchema,
]);

export const MODEL_FEATURES = ['tool_call', 'agent_thought', 'image_input'] as const;

const pricingSchema = z.object({
  input: z.number().min(0),
  output: z.number().min(0),
  /** Tokens the prices refer to (1000 or 1000000). */
  unit: z.number().positive(),
  currency: z.string().regex(/^[A-Z]{3}$/),
});
export type Pricing = z.output<typeof pricingSchema>;

const modelSchema = z.object({
  model_name: z.string().min(1),
  label: z.string().min(1),
  model_type: z.enum(['chat', 'embedding']),
  features: z.array(z.enum(MODEL_FEATURES)).default([]),
  context_window: z.number().int().min(0),
  max_output_tokens: z.number().int().min(0),
  dimensions: z.number().int().positive().optional(),
  parameters: z.array(parameterEntry).default([]),
  pricing: pricingSchema,
});

export const providerSchema = z.object({
  name: z.string().regex(/^[a-z0-9_]+$/),
  position: z.number().int().min(1),
  label: z.string(),
  description: z.string(),
  background: z.string().regex(/^#[0-9A-Fa-f]{6}$/),
  icon: z.string().regex(/^[\w.-]+\.(svg|png)$/),
  runtime: z.enum(['openai', 'anthropic', 'gemini', 'ollama']),
  default_base_url: z.string(),
  credentials: z.object({
    api_key: z.enum(['required', 'optional', 'none']),
    /** `none`: the provider's SDK cannot be routed through the outbound guard, so accounts may not redirect it. */
    base_url: z.enum(['required', 'optional', 'none']),
    organization: z.enum(['optional']).optional(),
  }),
  /** Server-wide defaults: names of environment variables. */
  env: z.object({
    api_key: z.string().optional(),
    base_url: z.string().optional(),
    organization: z.string().optional(),
  }),
  /** Model names outside the list are accepted (Ollama tags, OpenAI-compatible servers). */
  allow_custom_models: z.boolean().default(false),
  support_model_types: z.array(z.enum(['chat', 'embedding'])),
  models: z.array(modelSchema),
});
export type ProviderFile = z.output<typeof providerSchema>;

export type ModelType = 'chat' | 'embedding';
export type ModelFeature = (typeof MODEL_FEATURES)[number];

/** A model with its parameters expanded: what the API answers and the runtime validates against. */
export interface CatalogModel {
  provider: string;
  model_name: string;
  label: string;
  model_type: ModelType;
  features: ModelFeature[];
  context_window: number;
  max_output_tokens: number;
  dimensions?: number;
  parameters: ModelParameter[];
  pricing: Pricing;
  /** Registered at run time (deployments, custom names) rather than shipped in the catalog. */
  dynamic?: boolean;
  /** For dynamic models: where they are served. */
  base_url?: string;
}

export interface CatalogProvider extends Omit<ProviderFile, 'models'> {
  models: CatalogModel[];
}

export function expandParameters(entries: z.output<typeof parameterEntry>[]): ModelParameter[] {
  return entries.map((entry) => {
    if ('use_template' in entry) {
      const { use_template, ...overrides } = entry as { use_template: TemplateName } & Record<
        string,
        unknown
      >;
      return parameterSchema.parse({
        ...PARAMETER_TEMPLATES[use_template],
        options: [],
        ...overrides,
      });
    }
    return entry;
  });
}

/** Parameters of a model whose name is not in the catalog (custom Ollama tags, compatible servers). */
export function genericChatParameters(maxOutput = 4096): ModelParameter[] {
  return expandParameters([
    { use_template: 'temperature' },
    { use_template: 'top_p' },
    { use_template: 'presence_penalty' },
    { use_template: 'frequency_penalty' },
    { use_template: 'max_tokens', default: Math.min(2048, maxOutput), max: maxOutput },
  ]);
}
