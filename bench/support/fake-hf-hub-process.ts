import * as path from 'node:path';
import type { HubFile, HubReply, HubRequest } from './fake-hf-hub-server';
import { IpcChild } from './ipc-child';

type Request = Omit<HubRequest, 'id'>;

/** The fake Hugging Face hub in a child process, driven over IPC. */
export class FakeHubProcess {
  private constructor(
    private readonly child: IpcChild<Request, HubReply>,
    readonly baseURL: string,
    readonly repo: { id: string; sha: string; files: HubFile[] },
  ) {}

  /** Forks the fake with one repo of streamed files of these sizes. */
  static async start(files: { path: string; size: number }[]): Promise<FakeHubProcess> {
    const { child, ready } = await IpcChild.start<Request, HubReply>(
      path.join(__dirname, 'fake-hf-hub-server.ts'),
      { BENCH_HUB_FILES: JSON.stringify(files) },
      'fake hub',
    );
    return new FakeHubProcess(child, ready.baseURL!, ready.repo!);
  }

  file(p: string): HubFile {
    const f = this.repo.files.find((x) => x.path === p);
    if (!f) throw new Error(`no file ${p} on the fake hub`);
    return f;
  }

  /** The hub URL our downloader and curl start from (302 to the CDN path). */
  resolveUrl(p: string): string {
    return `${this.baseURL}/${this.repo.id}/resolve/${this.repo.sha}/${p}`;
  }

  /** Paces every CDN answer (each connection) to this rate; 0 turns it off. */
  async throttle(bytesPerSec: number): Promise<void> {
    await this.child.call({ type: 'throttle', bytesPerSec });
  }

  cpuMs(): Promise<number> {
    return this.child.cpuMs();
  }

  close(): Promise<void> {
    return this.child.close();
  }
}
