import { AppConfig, parseEnv } from '@app/config';
import { OutboundHttpClient } from '@app/http';
import { FakeHfHub } from '@test/fakes/fake-hf-hub';
import { FakeOllama } from '@test/fakes/fake-ollama';
import { HuggingFaceClient } from './huggingface.client';
import { OllamaClient } from './ollama.client';

/** Without OUTBOUND_ALLOW_HOSTS: the configured Ollama host is allowed, a loopback hub is not. */
describe('hub sources and the SSRF guard', () => {
  let ollama: FakeOllama;
  let hub: FakeHfHub;

  beforeAll(async () => {
    ollama = await FakeOllama.create();
    hub = await FakeHfHub.create();
  });
  afterAll(async () => {
    await ollama.close();
    await hub.stop();
  });

  const config = (env: Record<string, string>): AppConfig =>
    new AppConfig(parseEnv({ NODE_ENV: 'test', ...env }));

  it('reaches the operator-configured Ollama on loopback', async () => {
    const client = new OllamaClient(config({ OLLAMA_BASE_URL: ollama.url }));
    try {
      const tags = await client.tags();
      expect(tags.map((t) => t.name)).toContain('qwen3:8b');
    } finally {
      await client.onApplicationShutdown();
    }
  });

  it('refuses a hub endpoint on loopback unless allow-listed', async () => {
    const cfg = config({ HF_ENDPOINT: hub.url });
    const http = OutboundHttpClient.fromConfig(cfg, { maxRetries: 0 });
    try {
      const client = new HuggingFaceClient(cfg, http);
      await expect(
        client.search({ sort: 'downloads', direction: -1, limit: 1 }),
      ).rejects.toMatchObject({ code: 'fail', message: expect.stringContaining('request failed') });
      expect(hub.requests).toHaveLength(0);
    } finally {
      await http.close();
    }
  });
});
