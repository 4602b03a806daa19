import { FakeBehaviour, FakeOpenAI } from '@test/fakes/fake-openai';

/**
 * FakeOpenAI in its own process (started with `fork`), so the fake's CPU does not count in the
 * benchmark's `process.cpuUsage()`. Every chat completion answers BENCH_FAKE_CHUNKS (default 20)
 * fixed content chunks; embeddings have BENCH_FAKE_EMBEDDING_DIMS (default 8) dimensions. IPC: it sends `{type:'ready', baseURL}`; it answers `{id, ...}` to
 * `{id, type:'pace', chunkDelayMs}` (pause between stream frames), `{id, type:'cpu'}` (its own
 * `process.cpuUsage()`); on `{type:'close'}` it closes the fake and exits. It also exits when the parent goes.
 */
export interface FakeRequest {
  id: number;
  type: 'pace' | 'cpu' | 'close';
  chunkDelayMs?: number;
}

export interface FakeReply {
  id?: number;
  type: 'ready' | 'ok' | 'cpu';
  baseURL?: string;
  cpu?: NodeJS.CpuUsage;
}

async function main(): Promise<void> {
  const chunkCount = Number(process.env.BENCH_FAKE_CHUNKS ?? 20);
  const chunks = Array.from({ length: chunkCount }, (_, i) => `tok${i} `);
  const answer: FakeBehaviour = {
    type: 'text',
    chunks,
    usage: { prompt_tokens: 12, completion_tokens: chunkCount },
  };
  const dims = Number(process.env.BENCH_FAKE_EMBEDDING_DIMS ?? 8);
  const vector = Array.from({ length: dims }, (_, i) => ((i % 7) + 1) / 10);
  const fake = await FakeOpenAI.create({
    embeddingDimensions: dims,
  });
  fake.fallback = (req) => {
    // The fake records every request; keep that bounded over thousands of streams.
    if (fake.requests.length > 256) fake.requests.length = 0;
    // Embeddings answer at once: one fixed vector per input (no per-text work in the fake).
    if (req.endpoint === 'embeddings') {
      const inputs = Array.isArray(req.body?.input)
        ? (req.body.input as unknown[])
        : [req.body?.input];
      return { type: 'embeddings', vectors: inputs.map(() => vector) };
    }
    return answer;
  };

  const send = (reply: FakeReply) => process.send?.(reply);
  const close = async () => {
    await fake.close();
    process.exit(0);
  };
  process.on('disconnect', () => void close());
  process.on('message', (msg: FakeRequest) => {
    switch (msg.type) {
      case 'pace':
        fake.chunkDelayMs = msg.chunkDelayMs ?? 0;
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
  send({ type: 'ready', baseURL: fake.baseURL });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
