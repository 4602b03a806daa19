import { z } from 'zod';

/**
 * The data files of the builtin apps (templates): `categories.json` and
 * `templates/<slug>/app.json` with its icon. Validated once at boot; a bad file stops the boot
 * with its path and field.
 */

const KEY = /^[a-z][a-z0-9_]*$/;

export const builtinAppCategoriesSchema = z
  .array(
    z
      .object({
        category: z.string().regex(KEY, 'lowercase letters, digits and _'),
        name: z.string().min(1),
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
export type BuiltinAppCategory = z.output<typeof builtinAppCategoriesSchema>[number];

export const builtinAppFileSchema = z
  .object({
    /** Stable: the console adds a template to the space by this id. */
    id: z.uuid({ error: 'must be a UUID' }),
    category: z.string().min(1),
    /** The app's name once added (the apps' limit). */
    name: z.string().min(1).max(40),
    icon: z.string().regex(/^[\w.-]+\.(svg|png)$/, 'a file name ending in .svg or .png'),
    description: z.string().min(1).max(800),
    /** Order in the list. */
    position: z.number().int().min(1),
    /** When the template was written (Unix seconds), shown by the console. */
    created_at: z.number().int().min(0),
    /**
     * The draft config of the app it creates: any of the 14 config keys, the others take a new
     * app's defaults; checked by the apps' own validator and against the model and tool catalogs.
     */
    draft_config: z.record(z.string(), z.unknown()),
  })
  .strict();
export type BuiltinAppFile = z.output<typeof builtinAppFileSchema>;
