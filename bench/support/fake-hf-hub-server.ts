import { FakeHfHub } from '@test/fakes/fake-hf-hub';

/**
 * FakeHfHub in its own process (started with `fork`), so serving the bytes does not count
 * against the downloader being measured. BENCH_HUB_FILES is a JSON list of `{path, size}`: one
 * repo `bench/download` with those files, streamed (generated from the offset, never held in
 * memory; their SHA-256 is computed at startup). IPC: it sends `{type:'ready', baseURL, repo}`;
 * it answers `{id, ...}` to `{id, type:'throttle', bytesPerSec}` (per connection; 0 = off) and
 * `{id, type:'cpu'}`; on `{type:'close'}` it stops and exits. It also exits when the parent goes.
 */
export interface HubRequest {
  id: number;
  type: 'throttle' | 'cpu' | 'close';
  bytesPerSec?: number;
}

export interface HubFile {
  path: string;
  size: number;
  sha256: string;
}

export interface HubReply {
  id?: number;
  type: 'ready' | 'ok' | 'cpu';
  baseURL?: string;
  repo?: { id: string; sha: string; files: HubFile[] };
  cpu?: NodeJS.CpuUsage;
}

function main(): Promise<void> {
  const specs = JSON.parse(process.env.BENCH_HUB_FILES ?? '[]') as { path: string; size: number }[];
  return FakeHfHub.create().then((hub) => {
    const repo = hub.addRepo({
      id: 'bench/download',
      files: specs.map((f) => ({ ...f, streamed: true })),
    });
    const send = (reply: HubReply) => process.send?.(reply);
    const close = async () => {
      await hub.stop();
      process.exit(0);
    };
    process.on('disconnect', () => void close());
    process.on('message', (msg: HubRequest) => {
      switch (msg.type) {
        case 'throttle':
          hub.switches.throttleBytesPerSec = msg.bytesPerSec || undefined;
          send({ id: msg.id, type: 'ok' });
          break;
        case 'cpu':
          send({ id: msg.id, type: 'cpu', cpu: process.cpuUsage() });
          break;
        case 'close':
          void close();
          break;
      }
    });
    // The hub keeps every request; the bench makes few, but keep it bounded all the same.
    setInterval(() => (hub.requests.length = 0), 10_000).unref();
    send({
      type: 'ready',
      baseURL: hub.url,
      repo: {
        id: repo.id,
        sha: repo.sha,
        files: repo.files.map((f) => ({ path: f.path, size: f.size, sha256: f.sha256 })),
      },
    });
  });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
