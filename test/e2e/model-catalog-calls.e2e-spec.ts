import { HumanMessage } from '@langchain/core/messages';
import { FakeOpenAI } from '@test/fakes/fake-openai';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount } from '@test/support/auth';
import { usageRows } from '@test/support/model-test-utils';
import { ModelCatalog } from 'src/modules/model/catalog/model-catalog.service';
import { priceOf } from 'src/modules/model/catalog/parameters';
import { ModelRuntime } from 'src/modules/model/runtime/model-runtime.service';

/**
 * Every chat model of the providers that share the OpenAI-compatible runtime (Moonshot, DeepSeek,
 * Tongyi, OpenAI itself, and a server-configured OpenAI-compatible endpoint) is callable through
 * ModelRuntime with the server's credentials, and each call is priced from its catalog entry.
 */
describe('catalog models on the OpenAI-compatible runtime', () => {
  let fake: FakeOpenAI;
  let t: TestApp;

  beforeAll(async () => {
    // The fake refuses calls without the server's key, so the env credentials must reach it.
    fake = await FakeOpenAI.create({ requireKey: 'sk-server' });
    const env: Record<string, string> = { MODEL_MAX_RETRIES: '0' };
    for (const prefix of ['OPENAI', 'MOONSHOT', 'DEEPSEEK', 'DASHSCOPE', 'OPENAI_COMPATIBLE']) {
      env[`${prefix}_API_KEY`] = 'sk-server';
      env[`${prefix}_API_BASE`] = fake.baseURL;
    }
    t = await createTestApp({ env });
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  const providers = ['openai', 'moonshot', 'deepseek', 'tongyi'];

  it.each(providers)(
    'calls every %s chat model and prices it from the catalog',
    async (provider) => {
      const acc = await createAccount(t);
      const catalog = t.app.get(ModelCatalog);
      const models = catalog.provider(provider).models.filter((m) => m.model_type === 'chat');
      expect(models.length).toBeGreaterThan(0);
      for (const m of models) {
        fake.enqueue({
          type: 'text',
          text: `hi from ${m.model_name}`,
          usage: { prompt_tokens: 1000, completion_tokens: 100 },
        });
        const { model } = await t.app
          .get(ModelRuntime)
          .chat({ provider, model: m.model_name }, { accountId: acc.id, source: 'test.catalog' });
        const res = await model.invoke([new HumanMessage('hello')]);
        expect(res.content).toBe(`hi from ${m.model_name}`);
        expect(fake.lastRequest('chat')?.body.model).toBe(m.model_name);
      }
      const rows = await usageRows(t, acc.id, (r) => r.length >= models.length);
      expect(rows).toHaveLength(models.length);
      for (const m of models) {
        const row = rows.find((r) => r.model === m.model_name)!;
        expect(row).toMatchObject({
          provider,
          prompt_tokens: 1000,
          completion_tokens: 100,
          currency: m.pricing.currency,
        });
        expect(Number(row.price)).toBeCloseTo(priceOf(m.pricing, 1000, 100), 8);
      }
    },
  );

  it('calls a custom model name on the server-configured OpenAI-compatible endpoint', async () => {
    const acc = await createAccount(t);
    fake.enqueue({ type: 'text', text: 'served by vLLM' });
    const { model } = await t.app
      .get(ModelRuntime)
      .chat(
        { provider: 'openai_compatible', model: 'Qwen/Qwen2.5-0.5B-Instruct' },
        { accountId: acc.id, source: 'test.catalog' },
      );
    expect((await model.invoke([new HumanMessage('hello')])).content).toBe('served by vLLM');
    expect(fake.lastRequest('chat')?.headers.authorization).toBe('Bearer sk-server');
  });
});
