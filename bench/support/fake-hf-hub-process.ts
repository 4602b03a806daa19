import { ChildProcess, fork } from 'node:child_process';
import * as path from 'node:path';
import type { HubFile, HubReply, HubRequest } from './fake-hf-hub-server';

/** The fake Hugging Face hub in a child process, driven over IPC. */
export class FakeHubProcess {
  private seq = 0;
  private readonly pending = new Map<number, (reply: HubReply) => void>();

  private constructor(
    private readonly child: ChildProcess,
    readonly baseURL: string,
    readonly repo: { id: string; sha: string; files: HubFile[] },
  ) {
    child.on('message', (reply: HubReply) => {
      const resolve = reply.id === undefined ? undefined : this.pending.get(reply.id);
      if (resolve) {
        this.pending.delete(reply.id!);
        resolve(reply);
      }
    });
  }

  /** Forks the fake with one repo of streamed files of these sizes. */
  static async start(files: { path: string; size: number }[]): Promise<FakeHubProcess> {
    const child = fork(path.join(__dirname, 'fake-hf-hub-server.ts'), [], {
      execPath: process.execPath,
      execArgv: ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register'],
      env: { ...process.env, BENCH_HUB_FILES: JSON.stringify(files) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const ready = await new Promise<HubReply>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`fake hub exited with ${code}`)));
      child.once('message', (reply: HubReply) => resolve(reply));
    });
    child.removeAllListeners('exit');
    child.removeAllListeners('error');
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

  private call(msg: Omit<HubRequest, 'id'>): Promise<HubReply> {
    const id = ++this.seq;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.child.send({ ...msg, id });
    });
  }

  /** Paces every CDN answer (each connection) to this rate; 0 turns it off. */
  async throttle(bytesPerSec: number): Promise<void> {
    await this.call({ type: 'throttle', bytesPerSec });
  }

  async cpuMs(): Promise<number> {
    const { cpu } = await this.call({ type: 'cpu' });
    return (cpu!.user + cpu!.system) / 1000;
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.send({ id: ++this.seq, type: 'close' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
