import { FakeHfHub } from '@test/fakes/fake-hf-hub';
import { FakeOllama } from '@test/fakes/fake-ollama';
import { createTestApp, TestApp } from '@test/support/app-factory';
import { createAccount } from '@test/support/auth';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

/**
 * A download running when the process shuts down goes back to the queue; the next process
 * picks it up at boot and finishes it (a Hugging Face snapshot, and an Ollama pull).
 */
describe('Download tasks across a restart (e2e)', () => {
  let hub: FakeHfHub;
  let ollama: FakeOllama;
  let t: TestApp | undefined;
  const storage = mkdtempSync(path.join(tmpdir(), 'llmops-dl-restart-'));
  const SIZE = 2 * 1024 * 1024;

  beforeAll(async () => {
    hub = await FakeHfHub.create();
    ollama = await FakeOllama.create();
  });
  afterAll(async () => {
    await t?.close();
    await hub?.stop();
    await ollama?.close();
  });

  const boot = () =>
    createTestApp({
      env: {
        OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
        HF_ENDPOINT: hub.url,
        OLLAMA_BASE_URL: ollama.url,
        STORAGE_DIR: storage,
        DOWNLOAD_PART_MIN_BYTES: String(256 * 1024),
      },
    });

  it('resumes an interrupted download after a restart', async () => {
    const repo = hub.addRepo({ id: 'acme/restart-model', files: [{ path: 'm.gguf', size: SIZE }] });
    hub.switches.throttleBytesPerSec = 50 * 1024;
    t = await boot();
    const acc = await createAccount(t);
    const auth = { Authorization: `Bearer ${await t.token(acc.id, 'admin')}` };
    const res = await t
      .http()
      .post('/downloads')
      .set(auth)
      .send({ source: 'huggingface', model_id: repo.id });
    const id = (res.body as { data: { id: string } }).data.id;
    const status = async () =>
      (
        (await t!.http().get(`/downloads/${id}`).set(auth)).body as {
          data: { status: string; downloaded_size: number };
        }
      ).data;
    for (let i = 0; i < 200 && (await status()).downloaded_size === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await t.close();
    t = undefined;

    hub.switches.throttleBytesPerSec = undefined;
    t = await boot();
    let last = await status();
    for (let i = 0; i < 200 && last.status !== 'completed'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      last = await status();
    }
    expect(last.status).toBe('completed');
    const file = path.join(
      t.config.modelsDir,
      'models--acme--restart-model',
      'snapshots',
      repo.sha,
      'm.gguf',
    );
    expect(
      createHash('sha256')
        .update(await fsp.readFile(file))
        .digest('hex'),
    ).toBe(repo.files[0].sha256);
  });

  it('pulls an interrupted Ollama model again after a restart', async () => {
    await t?.close();
    // Slow enough (about 10 s in all) to outlast the shutdown's grace period for running jobs.
    ollama.pull.lineDelayMs = 300;
    t = await boot();
    const acc = await createAccount(t);
    const auth = { Authorization: `Bearer ${await t.token(acc.id, 'admin')}` };
    const res = await t
      .http()
      .post('/downloads')
      .set(auth)
      .send({ source: 'ollama', model_id: 'restart-pull:1b' });
    const id = (res.body as { data: { id: string } }).data.id;
    const status = async () =>
      (
        (await t!.http().get(`/downloads/${id}`).set(auth)).body as {
          data: { status: string; downloaded_size: number; total_size: number };
        }
      ).data;
    for (let i = 0; i < 200 && (await status()).downloaded_size === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await t.close();
    t = undefined;
    // The shutdown closed the stream; the row went back to pending for the next boot.
    expect(ollama.pulls.map((p) => p.outcome)).toEqual(['client_closed']);

    ollama.pull.lineDelayMs = 0;
    t = await boot();
    let last = await status();
    for (let i = 0; i < 200 && last.status !== 'completed'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      last = await status();
    }
    expect(last.status).toBe('completed');
    expect(last.downloaded_size).toBe(last.total_size);
    expect(ollama.pulls.map((p) => p.outcome)).toEqual(['client_closed', 'success']);
    expect(ollama.models).toContain('restart-pull:1b');
  });
});
