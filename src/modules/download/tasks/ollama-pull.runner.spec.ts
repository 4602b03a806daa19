import { FailException, ValidateError } from '@app/common';
import type { OutboundStreamResponse } from '@app/http';
import { PassThrough, Readable } from 'node:stream';
import type { DownloadProgress } from '../downloader';
import type { CreateDownloadReqDto } from '../dto/download-task.dto';
import {
  ndjsonLines,
  OllamaPullError,
  OllamaPullRunner,
  ollamaPullTarget,
  type OllamaPullOptions,
} from './ollama-pull.runner';

const D1 = `sha256:${'a'.repeat(64)}`;
const D2 = `sha256:${'b'.repeat(64)}`;
const line = (o: unknown) => `${JSON.stringify(o)}\n`;

/** A client whose pull answers the given body; records the model asked for and aborts. */
function stubClient(body: Readable) {
  const calls = { models: [] as string[], aborted: 0 };
  const client: OllamaPullOptions['client'] = {
    pull: (model: string) => {
      calls.models.push(model);
      return Promise.resolve({
        status: 200,
        headers: {},
        url: 'http://ollama/api/pull',
        body,
        // The runner reads lines from `body`.
        readChunks: () => Promise.reject(new Error('not read this way')),
        abort: () => {
          calls.aborted++;
          body.destroy();
        },
      } satisfies OutboundStreamResponse);
    },
  };
  return { client, calls };
}

function run(body: Readable, opts: Partial<OllamaPullOptions> = {}) {
  const { client, calls } = stubClient(body);
  const progress: DownloadProgress[] = [];
  const runner = new OllamaPullRunner('llama3.2:latest', {
    client,
    stallMs: 10_000,
    progressIntervalMs: 0,
    onProgress: (p) => progress.push(p),
    ...opts,
  });
  return { runner, calls, progress };
}

const fullPull = [
  line({ status: 'pulling manifest' }),
  line({ status: 'pulling aaaaaaaaaaaa', digest: D1, total: 1000 }),
  line({ status: 'pulling aaaaaaaaaaaa', digest: D1, total: 1000, completed: 600 }),
  // A retried part may report less for a moment.
  line({ status: 'pulling aaaaaaaaaaaa', digest: D1, total: 1000, completed: 500 }),
  line({ status: 'pulling aaaaaaaaaaaa', digest: D1, total: 1000, completed: 1000 }),
  line({ status: 'pulling bbbbbbbbbbbb', digest: D2, total: 1000 }),
  line({ status: 'pulling bbbbbbbbbbbb', digest: D2, total: 1000, completed: 1000 }),
  line({ status: 'verifying sha256 digest' }),
  line({ status: 'writing manifest' }),
  line({ status: 'success' }),
];

describe('OllamaPullRunner', () => {
  it('maps layers to file progress and completes on success', async () => {
    const { runner, calls, progress } = run(Readable.from(fullPull.map((l) => Buffer.from(l))));
    await expect(runner.start()).resolves.toBe('completed');
    expect(calls.models).toEqual(['llama3.2:latest']);
    const last = progress.at(-1)!;
    expect(last).toMatchObject({ downloaded: 2000, total: 2000, percent: 100, eta: 0 });
    expect(last.files).toEqual([
      { path: D1, size: 1000, downloaded: 1000, status: 'done' },
      { path: D2, size: 1000, downloaded: 1000, status: 'done' },
    ]);
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i].downloaded).toBeGreaterThanOrEqual(progress[i - 1].downloaded);
      expect(progress[i].percent!).toBeGreaterThanOrEqual(progress[i - 1].percent!);
    }
    // The second layer grows the total, but the percentage holds; 100 only with success.
    expect(progress.filter((p) => p.percent === 100)).toHaveLength(1);
    expect(progress.some((p) => p.files.some((f) => f.status === 'verifying'))).toBe(true);
  });

  it('fails on an error line, whatever came before it', async () => {
    const { runner, calls } = run(
      Readable.from([
        Buffer.from(fullPull.slice(0, 3).join('')),
        Buffer.from(line({ error: 'max retries exceeded: unexpected EOF' })),
        Buffer.from(fullPull.slice(3).join('')),
      ]),
    );
    const err: unknown = await runner.start().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OllamaPullError);
    expect((err as Error).message).toBe('Ollama: max retries exceeded: unexpected EOF');
    expect(calls.aborted).toBeGreaterThan(0);
  });

  it('treats an error next to a status as an error', async () => {
    const { runner } = run(Readable.from([Buffer.from(line({ status: 'success', error: 'x' }))]));
    await expect(runner.start()).rejects.toThrow('Ollama: x');
  });

  it('fails when the stream ends without success', async () => {
    const { runner } = run(Readable.from([Buffer.from(fullPull.slice(0, 5).join(''))]));
    await expect(runner.start()).rejects.toThrow(/without "success" \(pulling aaaaaaaaaaaa\)/);
  });

  it('fails on a line that is not JSON or too long', async () => {
    await expect(run(Readable.from([Buffer.from('oops\n')])).runner.start()).rejects.toThrow(
      /not JSON: oops/,
    );
    const long = Buffer.from(`{"status":"${'x'.repeat(2000)}"}\n`);
    await expect(run(Readable.from([long]), { maxLineBytes: 1024 }).runner.start()).rejects.toThrow(
      /longer than 1024 bytes/,
    );
  });

  it('fails when Ollama says nothing for the stall limit', async () => {
    const body = new PassThrough();
    body.write(line({ status: 'pulling manifest' }));
    const { runner } = run(body, { stallMs: 50 });
    await expect(runner.start()).rejects.toThrow(
      /sent nothing for 0.05 s while pulling llama3.2:latest \(last: pulling manifest\)/,
    );
  });

  it('pauses and cancels by aborting the stream', async () => {
    for (const [stop, outcome] of [
      ['pause', 'paused'],
      ['cancel', 'cancelled'],
    ] as const) {
      const body = new PassThrough();
      const { runner, calls, progress } = run(body);
      const started = runner.start();
      body.write(fullPull[1]);
      await new Promise<void>((r) => {
        const wait = () => (progress.some((p) => p.files.length) ? r() : setImmediate(wait));
        wait();
      });
      runner[stop]();
      await expect(started).resolves.toBe(outcome);
      expect(calls.aborted).toBeGreaterThan(0);
    }
  });

  it('shows the layers of an earlier run until Ollama reports them again', async () => {
    const { runner, progress } = run(Readable.from(fullPull.map((l) => Buffer.from(l))), {
      resumeFrom: [{ path: D1, size: 1000, downloaded: 700, status: 'downloading' }],
    });
    await expect(runner.start()).resolves.toBe('completed');
    expect(progress[0]).toMatchObject({ downloaded: 700, total: 1000, percent: 70 });
    expect(progress[0].files).toEqual([
      { path: D1, size: 1000, downloaded: 700, status: 'pending' },
    ]);
    // Ollama's own first report of the layer (0 here) replaces it; the percentage holds.
    expect(progress[1]).toMatchObject({ downloaded: 0, percent: 70 });
    expect(progress.at(-1)).toMatchObject({ downloaded: 2000, total: 2000, percent: 100 });
  });

  it('hands on a refusal of the pull itself', async () => {
    const runner = new OllamaPullRunner('x:latest', {
      client: { pull: () => Promise.reject(new FailException('Ollama refused to pull x: nope')) },
      stallMs: 10_000,
    });
    await expect(runner.start()).rejects.toThrow('Ollama refused to pull x: nope');
  });
});

describe('ndjsonLines', () => {
  it('keeps a character split across chunks and a last line without newline', async () => {
    const text = Buffer.from('{"s":"é"}\n{"s":"ü"}');
    const chunks = [text.subarray(0, 8), text.subarray(8, 15), text.subarray(15)];
    const out: string[] = [];
    for await (const l of ndjsonLines(Readable.from(chunks), 100)) out.push(l);
    expect(out).toEqual(['{"s":"é"}', '{"s":"ü"}']);
  });
});

describe('ollamaPullTarget', () => {
  const dto = (
    model_id: string,
    extra: Partial<CreateDownloadReqDto> = {},
  ): CreateDownloadReqDto => ({
    source: 'ollama',
    model_id,
    ...extra,
  });

  it('names models as Ollama lists them', () => {
    expect(ollamaPullTarget(dto('llama3.2'))).toEqual({ model: 'llama3.2:latest', tag: 'latest' });
    expect(ollamaPullTarget(dto('qwen2.5:0.5b-instruct-q4_K_M')).model).toBe(
      'qwen2.5:0.5b-instruct-q4_K_M',
    );
    expect(ollamaPullTarget(dto('library/phi3:mini')).model).toBe('phi3:mini');
    expect(ollamaPullTarget(dto('huihui_ai/deepseek-r1:8b')).model).toBe(
      'huihui_ai/deepseek-r1:8b',
    );
    expect(ollamaPullTarget(dto('phi3', { revision: 'mini' }))).toEqual({
      model: 'phi3:mini',
      tag: 'mini',
    });
  });

  it.each([
    'registry.example.com/library/llama3:latest',
    'evil.com/model',
    'localhost:5000/x/y:z',
    'a/b/c',
    '../etc:latest',
    '-x',
    'name:',
    'name:tag:more',
    'name@sha256:abc',
    'na me',
    `m:${'t'.repeat(65)}`,
    '',
  ])('refuses %j', (name) => {
    expect(() => ollamaPullTarget(dto(name))).toThrow(ValidateError);
  });

  it('refuses globs and a revision that contradicts the tag', () => {
    expect(() => ollamaPullTarget(dto('llama3', { files: ['*.gguf'] }))).toThrow(/files/);
    expect(() => ollamaPullTarget(dto('llama3:8b', { revision: '70b' }))).toThrow(/differs/);
    expect(() => ollamaPullTarget(dto('llama3', { revision: 'a/b' }))).toThrow(/revision/);
    expect(ollamaPullTarget(dto('llama3:8b', { revision: '8b', files: [] })).model).toBe(
      'llama3:8b',
    );
  });
});
