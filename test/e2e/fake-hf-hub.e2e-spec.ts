import { fileBytes, FakeHfHub, FakeHfRepo } from '@test/fakes/fake-hf-hub';
import { createHash } from 'node:crypto';

/** The fake hub's download paths, which the downloader's tests rely on: resolve, CDN, Range, switches. */
describe('FakeHfHub downloads (e2e)', () => {
  let hub: FakeHfHub;
  let repo: FakeHfRepo;
  const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
  const bytes = async (res: Response): Promise<Buffer> => Buffer.from(await res.arrayBuffer());

  beforeAll(async () => {
    hub = await FakeHfHub.create();
    repo = hub.addRepo({
      id: 'acme/weights',
      files: [
        { path: 'model.gguf', size: 100_000 },
        { path: 'config.json', content: '{"a":1}' },
      ],
    });
  });
  afterAll(() => hub.stop());
  afterEach(() => {
    Object.assign(hub.switches, {
      ignoreRange: false,
      dropAtByte: undefined,
      throttleBytesPerSec: undefined,
      tooManyRequests: 0,
      wrongBytes: false,
    });
  });

  it('redirects an LFS file to the CDN with the linked headers, and the bytes match', async () => {
    const file = repo.files[0];
    const res = await fetch(`${hub.url}/acme/weights/resolve/main/model.gguf`, {
      redirect: 'manual',
    });
    expect(res.status).toBe(302);
    expect(res.headers.get('x-repo-commit')).toBe(repo.sha);
    expect(res.headers.get('x-linked-etag')).toBe(`"${file.sha256}"`);
    expect(res.headers.get('x-linked-size')).toBe('100000');
    const cdn = await fetch(new URL(res.headers.get('location')!, hub.url));
    const body = await bytes(cdn);
    expect(body).toHaveLength(100_000);
    expect(sha(body)).toBe(file.sha256);
  });

  it('serves a small file directly and answers 401/404 like the hub', async () => {
    const res = await fetch(`${hub.url}/acme/weights/resolve/main/config.json`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('{"a":1}');
    const missing = await fetch(`${hub.url}/acme/nope/resolve/main/x`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-error-code')).toBe('RepoNotFound');
    hub.addRepo({ id: 'acme/gated', gated: true, files: [{ path: 'a.bin', size: 1 }] });
    expect((await fetch(`${hub.url}/acme/gated/resolve/main/a.bin`)).status).toBe(401);
  });

  it('honours Range (206, 416) and can ignore it', async () => {
    const file = repo.files[0];
    const url = `${hub.url}/cdn/${file.sha256}`;
    const part = await fetch(url, { headers: { range: 'bytes=1000-' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 1000-99999/100000');
    expect((await bytes(part)).equals(fileBytes(file, 1000))).toBe(true);
    expect((await fetch(url, { headers: { range: 'bytes=100000-' } })).status).toBe(416);
    hub.switches.ignoreRange = true;
    const whole = await fetch(url, { headers: { range: 'bytes=1000-' } });
    expect(whole.status).toBe(200);
    expect(await bytes(whole)).toHaveLength(100_000);
  });

  it('misbehaves on demand: 429, wrong bytes, a dropped connection', async () => {
    const file = repo.files[0];
    const url = `${hub.url}/cdn/${file.sha256}`;
    hub.switches.tooManyRequests = 1;
    hub.switches.retryAfterSeconds = 2;
    const limited = await fetch(url);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    expect((await fetch(url)).status).toBe(200);
    hub.switches.wrongBytes = true;
    expect(sha(await bytes(await fetch(url)))).not.toBe(file.sha256);
    hub.switches.wrongBytes = false;
    hub.switches.dropAtByte = 5000;
    await expect(fetch(url).then(bytes)).rejects.toThrow();
  });

  it('streams a large generated file from any offset, with Range, throttle and switches', async () => {
    const MiB = 1024 * 1024;
    const streamed = hub.addRepo({
      id: 'acme/streamed',
      files: [
        { path: 'big.gguf', size: 3 * MiB + 12_345, streamed: true },
        { path: 'notes.txt', size: 70_000, streamed: true },
      ],
    });
    const [file, plain] = streamed.files;
    expect(file.content).toBeUndefined();
    // The bytes depend on the offset alone: a slice across a block boundary equals the same
    // slice of the whole, and no two 1 MiB blocks are equal.
    const whole = fileBytes(file);
    expect(sha(whole)).toBe(file.sha256);
    expect(fileBytes(file, MiB - 10, MiB + 10).equals(whole.subarray(MiB - 10, MiB + 10))).toBe(
      true,
    );
    expect(whole.subarray(0, MiB).equals(whole.subarray(MiB, 2 * MiB))).toBe(false);
    // The same path and size in another hub give the same bytes; another path does not.
    const again = new FakeHfHub().addRepo({
      id: 'acme/streamed',
      files: [{ path: 'big.gguf', size: file.size, streamed: true }],
    });
    expect(sha(fileBytes(again.files[0]))).toBe(file.sha256);
    expect(sha(fileBytes(plain))).not.toBe(sha(fileBytes(file, 0, 70_000)));
    // A file outside LFS is served by resolve itself; its oid is the git blob id of its bytes.
    const direct = await fetch(`${hub.url}/acme/streamed/resolve/main/notes.txt`);
    expect(direct.status).toBe(200);
    expect((await bytes(direct)).equals(fileBytes(plain))).toBe(true);
    expect(plain.oid).toBe(
      createHash('sha1').update(`blob ${plain.size}\0`).update(fileBytes(plain)).digest('hex'),
    );

    const url = `${hub.url}/cdn/${file.sha256}`;
    const full = await fetch(`${hub.url}/acme/streamed/resolve/main/big.gguf`);
    expect(sha(await bytes(full))).toBe(file.sha256);
    const part = await fetch(url, { headers: { range: `bytes=${MiB - 7}-${2 * MiB + 3}` } });
    expect(part.status).toBe(206);
    expect((await bytes(part)).equals(whole.subarray(MiB - 7, 2 * MiB + 4))).toBe(true);

    hub.switches.wrongBytes = true;
    const wrong = await bytes(await fetch(url));
    expect(wrong[0]).toBe(whole[0] ^ 0xff);
    expect(wrong.subarray(1).equals(whole.subarray(1))).toBe(true);
    hub.switches.wrongBytes = false;
    hub.switches.dropAtByte = 5000;
    await expect(fetch(url, { headers: { range: 'bytes=100-' } }).then(bytes)).rejects.toThrow();
    hub.switches.dropAtByte = undefined;

    // Throttled to 1 MB/s: pieces of a tenth of a second, the first at once, so 300 kB take at
    // least 0.2 s (a lower bound only: a loaded machine makes it slower, never faster).
    hub.switches.throttleBytesPerSec = 1_000_000;
    const t0 = performance.now();
    const slow = await bytes(await fetch(url, { headers: { range: 'bytes=0-299999' } }));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(195);
    expect(slow.equals(whole.subarray(0, 300_000))).toBe(true);
  });
});
