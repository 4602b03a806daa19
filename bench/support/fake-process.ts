import { ChildProcess, fork } from 'node:child_process';
import * as path from 'node:path';
import type { FakeReply, FakeRequest } from './fake-openai-server';

/** The fake in a child process, driven over IPC. */
export class FakeProcess {
  private seq = 0;
  private readonly pending = new Map<number, (reply: FakeReply) => void>();

  private constructor(
    private readonly child: ChildProcess,
    readonly baseURL: string,
  ) {
    child.on('message', (reply: FakeReply) => {
      const resolve = reply.id === undefined ? undefined : this.pending.get(reply.id);
      if (resolve) {
        this.pending.delete(reply.id!);
        resolve(reply);
      }
    });
  }

  /** Forks the fake; every completion streams `chunks` content chunks. */
  static async start(chunks = 20, embeddingDims = 8): Promise<FakeProcess> {
    const child = fork(path.join(__dirname, 'fake-openai-server.ts'), [], {
      execPath: process.execPath,
      execArgv: ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register'],
      env: {
        ...process.env,
        BENCH_FAKE_CHUNKS: String(chunks),
        BENCH_FAKE_EMBEDDING_DIMS: String(embeddingDims),
      },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const baseURL = await new Promise<string>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`fake server exited with ${code}`)));
      child.once('message', (reply: FakeReply) => resolve(reply.baseURL!));
    });
    child.removeAllListeners('exit');
    child.removeAllListeners('error');
    return new FakeProcess(child, baseURL);
  }

  private call(msg: Omit<FakeRequest, 'id'>): Promise<FakeReply> {
    const id = ++this.seq;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.child.send({ ...msg, id });
    });
  }

  async pace(chunkDelayMs: number): Promise<void> {
    await this.call({ type: 'pace', chunkDelayMs });
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
