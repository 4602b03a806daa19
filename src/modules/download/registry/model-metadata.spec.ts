import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildGguf } from '@test/support/gguf-writer';
import { readGgufMetadata, readSnapshotMetadata } from './model-metadata';

describe('model metadata', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'registry-md-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const qwen = () =>
    buildGguf(
      [
        { key: 'general.architecture', type: 'string', value: 'qwen2' },
        { key: 'general.name', type: 'string', value: 'Tiny Qwen' },
        { key: 'general.file_type', type: 'u32', value: 15 }, // Q4_K_M
        { key: 'qwen2.context_length', type: 'u32', value: 32768 },
        { key: 'tokenizer.ggml.tokens', type: 'strings', value: ['a', 'b', 'c'] },
      ],
      [
        { name: 'token_embd.weight', shape: [16, 8] },
        { name: 'output.weight', shape: [8, 4] },
      ],
    );

  it('reads architecture, parameters, quantization and context from a GGUF header', async () => {
    const path = join(dir, 'tiny-q4_k_m.gguf');
    await writeFile(path, qwen());
    await expect(readGgufMetadata(path)).resolves.toEqual({
      format: 'gguf',
      architecture: 'qwen2',
      parameter_count: 16 * 8 + 8 * 4,
      quantization: 'Q4_K_M',
      context_length: 32768,
    });
  });

  it('falls back to general.parameter_count without tensors and reads u64 values', async () => {
    const path = join(dir, 'llama.gguf');
    await writeFile(
      path,
      buildGguf([
        { key: 'general.architecture', type: 'string', value: 'llama' },
        { key: 'general.parameter_count', type: 'u64', value: 1_235_814_400n },
        { key: 'general.file_type', type: 'u32', value: 7 }, // Q8_0
        { key: 'llama.context_length', type: 'u32', value: 131072 },
      ]),
    );
    await expect(readGgufMetadata(path)).resolves.toMatchObject({
      architecture: 'llama',
      parameter_count: 1_235_814_400,
      quantization: 'Q8_0',
      context_length: 131072,
    });
  });

  it('refuses a file that is not GGUF', async () => {
    const path = join(dir, 'bad.gguf');
    await writeFile(path, Buffer.from('NOPE and some more bytes to read from the file'));
    await expect(readGgufMetadata(path)).rejects.toThrow();
  });

  it('reads the header of a big file without reading it whole', async () => {
    // The tensor data is past the header: a sparse 512 MB tail must not be read.
    const path = join(dir, 'big.gguf');
    const head = qwen();
    await writeFile(path, head);
    const { truncate } = await import('node:fs/promises');
    await truncate(path, 512 * 1024 * 1024);
    const started = Date.now();
    await expect(readGgufMetadata(path)).resolves.toMatchObject({ context_length: 32768 });
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('describes a snapshot: the largest GGUF, else config.json for safetensors', async () => {
    await writeFile(join(dir, 'small.gguf'), buildGguf([]));
    await writeFile(join(dir, 'main.gguf'), qwen());
    await expect(readSnapshotMetadata(dir)).resolves.toMatchObject({
      format: 'gguf',
      architecture: 'qwen2',
    });

    const st = join(dir, 'st');
    await mkdir(st);
    await writeFile(join(st, 'model.safetensors'), Buffer.alloc(16));
    await writeFile(
      join(st, 'config.json'),
      JSON.stringify({
        architectures: ['Qwen2ForCausalLM'],
        max_position_embeddings: 4096,
        num_parameters: 494032768,
        torch_dtype: 'bfloat16',
      }),
    );
    await expect(readSnapshotMetadata(st)).resolves.toEqual({
      format: 'safetensors',
      architecture: 'Qwen2ForCausalLM',
      parameter_count: 494032768,
      quantization: 'BFLOAT16',
      context_length: 4096,
    });
    const other = join(dir, 'other');
    await mkdir(other);
    await writeFile(join(other, 'README.md'), '# x');
    await expect(readSnapshotMetadata(other)).resolves.toMatchObject({ format: 'other' });
  });
});
