import * as path from 'node:path';
import type { FakeReply, FakeRequest } from './fake-openai-server';
import { IpcChild } from './ipc-child';

type Request = Omit<FakeRequest, 'id'>;

/** The fake OpenAI server in a child process, driven over IPC. */
export class FakeProcess {
  private constructor(
    private readonly child: IpcChild<Request, FakeReply>,
    readonly baseURL: string,
  ) {}

  /** Forks the fake; every completion streams `chunks` content chunks. */
  static async start(chunks = 20, embeddingDims = 8): Promise<FakeProcess> {
    const { child, ready } = await IpcChild.start<Request, FakeReply>(
      path.join(__dirname, 'fake-openai-server.ts'),
      { BENCH_FAKE_CHUNKS: String(chunks), BENCH_FAKE_EMBEDDING_DIMS: String(embeddingDims) },
      'fake server',
    );
    return new FakeProcess(child, ready.baseURL!);
  }

  async pace(chunkDelayMs: number): Promise<void> {
    await this.child.call({ type: 'pace', chunkDelayMs });
  }

  cpuMs(): Promise<number> {
    return this.child.cpuMs();
  }

  close(): Promise<void> {
    return this.child.close();
  }
}
