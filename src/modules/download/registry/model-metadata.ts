import { lazyRequire } from '@app/common';
import { open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { EntryFormat } from './model-entry.entity';

// Loaded on first use: only a registry that reads local files pays for it.
const ggufLib = lazyRequire<typeof import('@huggingface/gguf')>('@huggingface/gguf');

export interface LocalMetadata {
  format: EntryFormat;
  architecture: string;
  parameter_count: number | null;
  quantization: string;
  context_length: number | null;
}

/** config.json is small; anything larger is not a config. */
const MAX_CONFIG_BYTES = 1024 * 1024;

/**
 * Reads a GGUF header: architecture, parameter count (from the tensor shapes, else
 * general.parameter_count), quantization (general.file_type) and context length. The library reads
 * the header in bounded chunks of the file, never the tensor data.
 */
export async function readGgufMetadata(path: string): Promise<LocalMetadata> {
  const lib = ggufLib();
  const out = await lib.gguf(path, { allowLocalFile: true, computeParametersCount: true });
  const md = out.metadata as Record<string, unknown>;
  const arch = typeof md['general.architecture'] === 'string' ? md['general.architecture'] : '';
  const ctx = arch ? md[`${arch}.context_length`] : undefined;
  const fileType = md['general.file_type'];
  const declared = md['general.parameter_count'];
  const counted = out.parameterCount > 0 ? out.parameterCount : null;
  return {
    format: 'gguf',
    architecture: arch,
    parameter_count: counted ?? numberOrNull(declared),
    quantization:
      typeof fileType === 'number' ? (lib.GGMLFileQuantizationType[fileType] ?? '') : '',
    context_length: numberOrNull(ctx),
  };
}

/** config.json of a safetensors snapshot: parameter count when given, max_position_embeddings. */
export async function readConfigMetadata(path: string): Promise<LocalMetadata> {
  const cfg = await readSmallJson(path);
  const arch = Array.isArray(cfg.architectures) ? String(cfg.architectures[0] ?? '') : '';
  return {
    format: 'safetensors',
    architecture: arch || (typeof cfg.model_type === 'string' ? cfg.model_type : ''),
    parameter_count: numberOrNull(cfg.num_parameters ?? cfg.num_params ?? cfg.n_params),
    quantization: typeof cfg.torch_dtype === 'string' ? cfg.torch_dtype.toUpperCase() : '',
    context_length: numberOrNull(cfg.max_position_embeddings ?? cfg.n_positions),
  };
}

/**
 * Metadata of a snapshot directory from its files: the largest GGUF file's header, else
 * config.json when safetensors are present; `other` when neither.
 */
export async function readSnapshotMetadata(dir: string, files?: string[]): Promise<LocalMetadata> {
  const names = files ?? (await listFiles(dir));
  const ggufs = names.filter((f) => /\.gguf$/i.test(f));
  if (ggufs.length > 0) {
    const sized = await Promise.all(
      ggufs.map(async (f) => ({
        f,
        size: (await stat(join(dir, f)).catch(() => null))?.size ?? -1,
      })),
    );
    const main = sized.filter((s) => s.size >= 0).sort((a, b) => b.size - a.size)[0];
    // A header that cannot be read still leaves a GGUF file by its name; its details stay unknown.
    if (main) return readGgufMetadata(join(dir, main.f)).catch(() => empty('gguf'));
  }
  if (names.some((f) => /\.safetensors$/i.test(f))) {
    if (names.includes('config.json')) {
      return readConfigMetadata(join(dir, 'config.json')).catch(() => empty('safetensors'));
    }
    return empty('safetensors');
  }
  return empty('other');
}

function empty(format: EntryFormat): LocalMetadata {
  return {
    format,
    architecture: '',
    parameter_count: null,
    quantization: '',
    context_length: null,
  };
}

function numberOrNull(v: unknown): number | null {
  if (typeof v === 'bigint') return Number(v);
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

async function readSmallJson(path: string): Promise<Record<string, unknown>> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(MAX_CONFIG_BYTES);
    const { bytesRead } = await fh.read(buf, 0, MAX_CONFIG_BYTES, 0);
    if (bytesRead === MAX_CONFIG_BYTES) throw new Error(`${path} is larger than a config`);
    const parsed: unknown = JSON.parse(buf.subarray(0, bytesRead).toString('utf8'));
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  } finally {
    await fh.close();
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}
