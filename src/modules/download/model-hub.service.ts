import { toPage, ValidateError, type Page } from '@app/common';
import { Injectable } from '@nestjs/common';
import {
  HubFileDto,
  HubModelDto,
  ModelInfoDto,
  ModelInfoReqDto,
  SearchModelsReqDto,
  SortField,
} from './dto/model-hub.dto';
import {
  HfModelInfo,
  HfSearchItem,
  HfSort,
  HfTreeEntry,
  HuggingFaceClient,
  MAX_SEARCH_RESULTS,
  validateRepoId,
  validateRevision,
} from './sources/huggingface.client';
import { OllamaClient, OllamaShow, OllamaTag } from './sources/ollama.client';

const HF_SORT: Partial<Record<SortField, HfSort>> = {
  downloads: 'downloads',
  likes: 'likes',
  created_at: 'createdAt',
  updated_at: 'lastModified',
  trending: 'trendingScore',
};
const OLLAMA_SORT = new Set<SortField>(['name', 'size', 'updated_at']);
/** Ollama names: `name[:tag]`, optionally with a namespace (`user/name:tag`). */
const OLLAMA_NAME =
  /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)?(:[A-Za-z0-9._-]+)?$/;

const FORMAT_BY_EXT: Array<[RegExp, string]> = [
  [/\.gguf$/i, 'gguf'],
  [/\.safetensors$/i, 'safetensors'],
  [/\.onnx$/i, 'onnx'],
  [/(^|\/)(pytorch_model|model)[^/]*\.bin$/i, 'pytorch'],
];
/** A quantization label in a GGUF file name, e.g. `qwen2.5-0.5b-instruct-q4_k_m.gguf`. */
const QUANT = /(?:^|[-_.])((?:IQ|Q)\d(?:_[A-Z0-9]+)*|BF16|FP16|FP32|F16|F32)(?=[-_.])/i;

/** Formats found in a list of file paths (detected from the names). */
export function detectFormats(paths: string[]): string[] {
  const found = new Set<string>();
  for (const p of paths) for (const [re, f] of FORMAT_BY_EXT) if (re.test(p)) found.add(f);
  return [...found].sort();
}

export function detectQuantizations(paths: string[]): string[] {
  const found = new Set<string>();
  for (const p of paths) {
    if (!/\.gguf$/i.test(p)) continue;
    const m = QUANT.exec(p.split('/').pop() ?? p);
    if (m) found.add(m[1].toUpperCase());
  }
  return [...found].sort();
}

function unix(iso: string | undefined): number {
  const t = iso ? Date.parse(iso) : NaN;
  return Number.isNaN(t) ? 0 : Math.floor(t / 1000);
}

export function hfModel(m: HfSearchItem): HubModelDto {
  return {
    source: 'huggingface',
    model_id: m.id,
    author: m.author ?? m.id.split('/')[0] ?? '',
    downloads: m.downloads ?? 0,
    likes: m.likes ?? 0,
    tags: m.tags ?? [],
    pipeline_tag: m.pipeline_tag ?? '',
    // The hub answers false, "auto" or "manual".
    gated: Boolean(m.gated),
    size: 0,
    updated_at: unix(m.lastModified ?? m.createdAt),
  };
}

function ollamaModel(t: OllamaTag): HubModelDto {
  return {
    source: 'ollama',
    model_id: t.name,
    author: t.details?.family ?? '',
    downloads: 0,
    likes: 0,
    tags: [t.details?.family, t.details?.parameter_size, t.details?.quantization_level].filter(
      (x): x is string => Boolean(x),
    ),
    pipeline_tag: '',
    gated: false,
    size: t.size ?? 0,
    updated_at: unix(t.modified_at),
  };
}

/** Searches and describes models on Hugging Face and the local Ollama library. */
@Injectable()
export class ModelHubService {
  constructor(
    private readonly hf: HuggingFaceClient,
    private readonly ollama: OllamaClient,
  ) {}

  async search(q: SearchModelsReqDto): Promise<Page<HubModelDto>> {
    return q.source === 'huggingface' ? this.searchHf(q) : this.searchOllama(q);
  }

  async info(q: ModelInfoReqDto): Promise<ModelInfoDto> {
    return q.source === 'huggingface' ? this.infoHf(q) : this.infoOllama(q);
  }

  private async searchHf(q: SearchModelsReqDto): Promise<Page<HubModelDto>> {
    const sort = HF_SORT[q.sort_by ?? 'downloads'];
    if (!sort) {
      throw new ValidateError({
        sort_by: [
          'sort_by for huggingface is downloads, likes, created_at, updated_at or trending',
        ],
      });
    }
    // The hub pages with cursors only: ask for everything up to this page and keep its tail.
    const offset = (q.current_page - 1) * q.page_size;
    const limit = offset + q.page_size;
    if (limit > MAX_SEARCH_RESULTS) {
      throw new ValidateError({
        current_page: [`Hugging Face search reaches the first ${MAX_SEARCH_RESULTS} results only`],
      });
    }
    const { items, hasMore } = await this.hf.search({
      search: q.query,
      sort,
      direction: q.sort_order === 'asc' ? 1 : -1,
      limit,
    });
    const list = items.slice(offset, limit).map(hfModel);
    const seen = Math.min(items.length, limit);
    return toPage(list, seen + (hasMore ? 1 : 0), q);
  }

  private async searchOllama(q: SearchModelsReqDto): Promise<Page<HubModelDto>> {
    const by = q.sort_by ?? 'name';
    if (!OLLAMA_SORT.has(by)) {
      throw new ValidateError({ sort_by: ['sort_by for ollama is name, size or updated_at'] });
    }
    const word = q.query?.toLowerCase();
    const all = (await this.ollama.tags())
      .filter((t) => !word || t.name.toLowerCase().includes(word))
      .map(ollamaModel);
    const dir = (q.sort_order ?? (by === 'name' ? 'asc' : 'desc')) === 'asc' ? 1 : -1;
    all.sort((a, b) => {
      const d =
        by === 'name'
          ? a.model_id.localeCompare(b.model_id)
          : by === 'size'
            ? a.size - b.size
            : a.updated_at - b.updated_at;
      return d * dir || a.model_id.localeCompare(b.model_id);
    });
    const offset = (q.current_page - 1) * q.page_size;
    return toPage(all.slice(offset, offset + q.page_size), all.length, q);
  }

  private async infoHf(q: ModelInfoReqDto): Promise<ModelInfoDto> {
    const repo = validateRepoId(q.model_id);
    const revision = validateRevision(q.revision ?? 'main');
    const info = await this.hf.modelInfo(repo, revision);
    // Pin the tree to the commit the info describes, so both answers agree.
    const tree = await this.hf.fileTree(repo, info.sha ?? revision);
    return hfInfo(info, tree, revision);
  }

  private async infoOllama(q: ModelInfoReqDto): Promise<ModelInfoDto> {
    if (!OLLAMA_NAME.test(q.model_id)) {
      throw new ValidateError({
        model_id: ['model_id must be an Ollama name such as llama3.2:latest'],
      });
    }
    const [show, tags] = await Promise.all([this.ollama.show(q.model_id), this.ollama.tags()]);
    const name = q.model_id.includes(':') ? q.model_id : `${q.model_id}:latest`;
    const tag = tags.find((t) => t.name === name || t.name === q.model_id) ?? { name };
    return ollamaInfo(tag, show);
  }
}

function hfInfo(info: HfModelInfo, tree: HfTreeEntry[], revision: string): ModelInfoDto {
  const files: HubFileDto[] = tree
    .map((e) => ({
      path: e.path,
      size: e.lfs?.size ?? e.size ?? 0,
      sha256: e.lfs?.oid ?? '',
      lfs: Boolean(e.lfs),
    }))
    .sort((a, b) => a.path.localeCompare(b.path));
  const paths = files.map((f) => f.path);
  const configCtx = info.config?.max_position_embeddings;
  return {
    ...hfModel(info),
    revision: info.sha ?? revision,
    files,
    total_size: files.reduce((s, f) => s + f.size, 0),
    formats: detectFormats(paths),
    parameter_count: info.safetensors?.total ?? info.gguf?.total ?? null,
    quantizations: detectQuantizations(paths),
    context_length: info.gguf?.context_length ?? (typeof configCtx === 'number' ? configCtx : null),
    library_name: info.library_name ?? '',
  };
}

function ollamaInfo(tag: OllamaTag, show: OllamaShow): ModelInfoDto {
  const details = show.details ?? tag.details ?? {};
  const mi = show.model_info ?? {};
  const params = mi['general.parameter_count'];
  const ctxKey = Object.keys(mi).find((k) => k.endsWith('.context_length'));
  const ctx = ctxKey ? mi[ctxKey] : undefined;
  const base = ollamaModel({ ...tag, details, modified_at: show.modified_at ?? tag.modified_at });
  return {
    ...base,
    tags: [...base.tags, ...(show.capabilities ?? [])],
    revision: tag.digest ?? '',
    files: [],
    total_size: tag.size ?? 0,
    formats: details.format ? [details.format] : [],
    parameter_count: typeof params === 'number' ? params : null,
    quantizations: details.quantization_level ? [details.quantization_level] : [],
    context_length: typeof ctx === 'number' ? ctx : null,
    library_name: '',
  };
}
