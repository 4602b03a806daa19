import { FakeHfHub } from '@test/fakes/fake-hf-hub';
import {
  freePort,
  MAIN,
  ROOT,
  serviceApi,
  ServiceProcess,
  signUpOverHttp,
  startService,
} from '@test/support/service-process';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

/**
 * The worker process killed (SIGKILL: no shutdown hook runs) in the middle of a download: after a
 * restart on the same storage the task is picked up again, continues from the bytes the sidecar
 * recorded (its Range requests start past zero) and ends with a verified file.
 */
describe('download tasks survive a killed process (embedded mode, dist/main.js)', () => {
  let storage: string;
  let port: number;
  let service: ServiceProcess | undefined;
  let hub: FakeHfHub;
  const SIZE = 4 * 1024 * 1024;

  beforeAll(async () => {
    if (!existsSync(MAIN)) execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'ignore' });
    storage = mkdtempSync(path.join(tmpdir(), 'llmops-dl-kill-'));
    port = await freePort();
    hub = await FakeHfHub.create();
  }, 180_000);
  afterAll(async () => {
    if (service && service.proc.exitCode === null) service.proc.kill('SIGKILL');
    await hub?.stop();
    rmSync(storage, { recursive: true, force: true });
  });

  const boot = () =>
    startService(
      {
        STORAGE_DIR: storage,
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'warn',
        OUTBOUND_ALLOW_HOSTS: '127.0.0.1',
        HF_ENDPOINT: hub.url,
        DOWNLOAD_PART_MIN_BYTES: String(512 * 1024),
      },
      port,
    );
  const api = (method: string, p: string, token?: string, body?: unknown) =>
    serviceApi(port)(method, p, token, body);

  it('resumes from the recorded ranges after SIGKILL and verifies the file', async () => {
    const repo = hub.addRepo({ id: 'acme/kill-model', files: [{ path: 'm.gguf', size: SIZE }] });
    const file = repo.files[0];
    // Slow enough that the kill lands mid-file, fast enough that ranges get recorded.
    hub.switches.throttleBytesPerSec = 64 * 1024;
    service = await boot();
    const login = await signUpOverHttp(port, 'dl-kill@example.test', 'passw0rd-dl-kill');
    let token = await login();

    const created = await api('POST', '/downloads', token, {
      source: 'huggingface',
      model_id: repo.id,
    });
    expect(created.code).toBe('success');
    const id = created.data.id as string;
    const status = async () => (await api('GET', `/downloads/${id}`, token)).data;

    // Wait until the row shows progress (written at most once a second: the sidecar has at
    // least as much), then kill without warning.
    let seen = await status();
    for (let i = 0; i < 300 && seen.downloaded_size < SIZE / 16; i++) {
      await new Promise((r) => setTimeout(r, 100));
      seen = await status();
    }
    expect(seen.status).toBe('downloading');
    expect(seen.downloaded_size).toBeGreaterThan(0);
    expect(seen.downloaded_size).toBeLessThan(SIZE);
    service.proc.kill('SIGKILL');
    await new Promise((r) => service!.proc.once('exit', r));

    const blobs = path.join(storage, 'models', 'models--acme--kill-model', 'blobs');
    const sidecar = JSON.parse(
      await fsp.readFile(path.join(blobs, `${file.sha256}.part.json`), 'utf8'),
    ) as unknown;
    expect(sidecar).toBeTruthy();

    // The restart: every CDN request from here on is the resumed transfer.
    hub.switches.throttleBytesPerSec = undefined;
    const before = hub.requestsTo('/cdn/').length;
    service = await boot();
    token = await login();
    let last = await status();
    for (let i = 0; i < 300 && last.status !== 'completed'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      last = await status();
    }
    expect(last.status).toBe('completed');
    expect(last.downloaded_size).toBe(SIZE);

    const resumed = hub
      .requestsTo('/cdn/')
      .slice(before)
      .filter((r) => r.method === 'GET');
    expect(resumed.length).toBeGreaterThan(0);
    // No part starts over: every range asked after the restart leaves out the bytes on disk.
    const fetched = resumed.reduce((n, r) => {
      const m = /^bytes=(\d+)-(\d+)$/.exec(String(r.headers.range ?? ''));
      return n + (m ? Number(m[2]) - Number(m[1]) + 1 : SIZE);
    }, 0);
    expect(fetched).toBeLessThan(SIZE);

    const onDisk = path.join(
      storage,
      'models',
      'models--acme--kill-model',
      'snapshots',
      repo.sha,
      'm.gguf',
    );
    expect(
      createHash('sha256')
        .update(await fsp.readFile(onDisk))
        .digest('hex'),
    ).toBe(file.sha256);
    await expect(fsp.access(path.join(blobs, `${file.sha256}.part`))).rejects.toThrow();
  }, 120_000);
});
