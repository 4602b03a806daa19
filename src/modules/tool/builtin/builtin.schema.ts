import { z } from 'zod';

/**
 * The data files of the builtin tools: `providers/<name>/provider.json` (+ its icon) and
 * `categories.json`. Validated once at boot; a bad file stops the boot with its path and field.
 */

const NAME = /^[a-z][a-z0-9_]*$/;

const optionSchema = z.object({
  value: z.union([z.string(), z.number()]),
  label: z.string().min(1),
});

/** A setting the user edits when binding the tool (not an LLM argument). */
export const paramSchema = z
  .object({
    name: z.string().regex(NAME, 'lowercase letters, digits and _'),
    label: z.string().min(1),
    type: z.enum(['string', 'number', 'boolean', 'select']),
    required: z.boolean().default(false),
    default: z.union([z.string(), z.number(), z.boolean(), z.null()]).default(null),
    min: z.number().nullable().default(null),
    max: z.number().nullable().default(null),
    options: z.array(optionSchema).default([]),
  })
  .strict()
  .superRefine((p, ctx) => {
    const issue = (path: string, message: string) =>
      ctx.addIssue({ code: 'custom', path: [path], message });
    if (p.type === 'select') {
      if (!p.options.length) issue('options', 'a select needs options');
      const values = p.options.map((o) => o.value);
      if (new Set(values).size !== values.length) issue('options', 'duplicate option values');
      if (p.default !== null && !values.includes(p.default as string | number))
        issue('default', 'must be one of the options');
    } else if (p.options.length) issue('options', `only a select has options, not a ${p.type}`);
    if (p.type !== 'number' && (p.min !== null || p.max !== null))
      issue('min', `only a number has min/max, not a ${p.type}`);
    if (p.default !== null) {
      const kind = { string: 'string', number: 'number', boolean: 'boolean', select: '' }[p.type];
      if (kind && typeof p.default !== kind) issue('default', `must be a ${kind}`);
    }
    if (p.type === 'number') {
      if (p.min !== null && p.max !== null && p.min > p.max) issue('min', 'is greater than max');
      if (typeof p.default === 'number') {
        if (p.min !== null && p.default < p.min) issue('default', `is below min ${p.min}`);
        if (p.max !== null && p.default > p.max) issue('default', `is above max ${p.max}`);
      }
    }
  });
export type ToolParam = z.output<typeof paramSchema>;

/** One argument the LLM fills in: a JSON Schema property of a plain type (more keywords allowed). */
const inputPropertySchema = z
  .object({
    type: z.enum(['string', 'integer', 'number', 'boolean']),
    description: z.string().default(''),
  })
  .loose();

export const inputsSchema = z
  .object({
    type: z.literal('object'),
    properties: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), inputPropertySchema),
    required: z.array(z.string()).default([]),
    additionalProperties: z.boolean().optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    s.required.forEach((name, i) => {
      if (!(name in s.properties))
        ctx.addIssue({
          code: 'custom',
          path: ['required', i],
          message: `"${name}" is not in properties`,
        });
    });
  });
export type ToolInputs = z.output<typeof inputsSchema>;

const toolSchema = z
  .object({
    name: z.string().regex(NAME, 'lowercase letters, digits and _'),
    label: z.string().min(1),
    description: z.string().min(1),
    params: z.array(paramSchema).default([]),
    inputs: inputsSchema,
  })
  .strict()
  .superRefine((t, ctx) => {
    const seen = new Set<string>();
    t.params.forEach((p, i) => {
      if (seen.has(p.name))
        ctx.addIssue({
          code: 'custom',
          path: ['params', i, 'name'],
          message: `duplicate param "${p.name}"`,
        });
      seen.add(p.name);
    });
  });
export type ToolFile = z.output<typeof toolSchema>;

export const providerFileSchema = z
  .object({
    name: z.string().regex(NAME, 'lowercase letters, digits and _'),
    label: z.string().min(1),
    description: z.string().min(1),
    background: z.string().regex(/^#[0-9A-Fa-f]{6}$/, 'a CSS colour such as #E5E7EB'),
    category: z.string().min(1),
    position: z.number().int().min(1),
    icon: z.string().regex(/^[\w.-]+\.(svg|png)$/, 'a file name ending in .svg or .png'),
    tools: z.array(toolSchema).min(1),
  })
  .strict()
  .superRefine((p, ctx) => {
    const seen = new Set<string>();
    p.tools.forEach((t, i) => {
      if (seen.has(t.name))
        ctx.addIssue({
          code: 'custom',
          path: ['tools', i, 'name'],
          message: `duplicate tool "${t.name}"`,
        });
      seen.add(t.name);
    });
  });
export type ProviderFile = z.output<typeof providerFileSchema>;

export const categoriesFileSchema = z
  .array(
    z
      .object({
        category: z.string().regex(NAME, 'lowercase letters, digits and _'),
        name: z.string().min(1),
        // The console injects it with v-html: inline SVG markup, nothing else.
        icon: z
          .string()
          .regex(
            /^\s*<svg[\s>][\s\S]*<\/svg>\s*$/,
            'must be inline SVG markup (<svg ...>...</svg>)',
          )
          .refine((v) => !/<script|\son\w+\s*=|javascript:/i.test(v), {
            error: 'must not contain scripts or event handlers',
          }),
      })
      .strict(),
  )
  .min(1)
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((c, i) => {
      if (seen.has(c.category))
        ctx.addIssue({
          code: 'custom',
          path: [i, 'category'],
          message: `duplicate category "${c.category}"`,
        });
      seen.add(c.category);
    });
  });
export type Category = z.output<typeof categoriesFileSchema>[number];
