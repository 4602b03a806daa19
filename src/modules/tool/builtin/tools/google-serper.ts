import { ToolCallError } from 'src/modules/tool/runtime/tool.types';
import type { BuiltinToolImpl } from './builtin-tool.impl';
import { joinUrl, Upstream } from './upstream';

type Json = Record<string, unknown>;
const obj = (v: unknown): Json =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
const str = (v: unknown): string | undefined => {
  if (typeof v === 'string') return v.trim() ? v : undefined;
  return typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
};

/**
 * The original's answer (LangChain's GoogleSerperAPIWrapper): a direct answer from the answer
 * box when there is one; otherwise the knowledge graph's facts and the organic snippets, joined.
 */
export function formatSerperResults(results: unknown, k = 10): string {
  const r = obj(results);
  const box = obj(r.answerBox);
  if (str(box.answer)) return str(box.answer)!;
  if (str(box.snippet)) return str(box.snippet)!.replace(/\n/g, ' ');
  if (Array.isArray(box.snippetHighlighted) && box.snippetHighlighted.length)
    return box.snippetHighlighted.map(String).join(' ');

  const snippets: string[] = [];
  const kg = obj(r.knowledgeGraph);
  if (Object.keys(kg).length) {
    const title = str(kg.title) ?? '';
    if (str(kg.type)) snippets.push(`${title}: ${str(kg.type)}.`);
    if (str(kg.description)) snippets.push(str(kg.description)!);
    for (const [name, value] of Object.entries(obj(kg.attributes)))
      snippets.push(`${title} ${name}: ${str(value) ?? JSON.stringify(value)}.`);
  }
  const organic = Array.isArray(r.organic) ? r.organic.slice(0, k) : [];
  for (const item of organic.map(obj)) {
    if (str(item.snippet)) snippets.push(str(item.snippet)!);
    for (const [name, value] of Object.entries(obj(item.attributes)))
      snippets.push(`${name}: ${str(value) ?? JSON.stringify(value)}.`);
  }
  return snippets.length ? snippets.join(' ') : 'No good Google Search Result was found';
}

export const googleSerper: BuiltinToolImpl = {
  async run({ args, signal, http, env }) {
    const key = env.SERPER_API_KEY;
    if (!key) throw new ToolCallError('The Serper API key is not configured: set SERPER_API_KEY');
    const upstream = new Upstream(http, 'Serper', signal, key);
    const results = await upstream.json(joinUrl(env.SERPER_BASE_URL, '/search'), {
      method: 'POST',
      headers: { 'x-api-key': key },
      authHeaders: ['x-api-key'],
      json: { q: String(args.query), gl: 'us', hl: 'en', num: 10 },
    });
    return formatSerperResults(results);
  },
};
