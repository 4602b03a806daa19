import { FailException, ForbiddenError, NotFoundError, ValidateError } from '@app/common';
import { AppConfig } from '@app/config';
import { findOutboundError, OutboundHttpClient, type OutboundResponse } from '@app/http';
import { Injectable } from '@nestjs/common';

/** `owner/name`: letters, digits, `-`, `_`, `.`; no `..`, no leading dot (no path tricks). */
const REPO_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;
/** A branch, tag, commit or `refs/pr/N`; encoded as one path segment, as the hub accepts. */
const REVISION = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$/;
/** Tree pages followed through `Link: rel="next"` (the hub gives about 1000 entries a page). */
export const MAX_TREE_PAGES = 20;
/** The hub's own cap on `limit` of `/api/models`. */
export const MAX_SEARCH_RESULTS = 1000;

export function validateRepoId(repo: string): string {
  const parts = repo.split('/');
  // Hugging Face allows neither ".." nor "--" in a name; "--" also joins the cache folder's parts.
  const ok = (p: string) => REPO_SEGMENT.test(p) && !p.includes('..') && !p.includes('--');
  if (parts.length !== 2 || !parts.every(ok)) {
    throw new ValidateError(
      { model_id: ['model_id must be owner/name (letters, digits, - _ ., no "--" or "..")'] },
      'model_id must be owner/name (letters, digits, - _ ., no "--" or "..")',
    );
  }
  return repo;
}

export function validateRevision(rev: string): string {
  if (!REVISION.test(rev) || rev.split('/').some((p) => p === '..' || p === '.' || p === '')) {
    throw new ValidateError({ revision: ['revision is not a valid branch, tag or commit'] });
  }
  return rev;
}

export interface HfSearchItem {
  id: string;
  author?: string;
  downloads?: number;
  likes?: number;
  tags?: string[];
  pipeline_tag?: string;
  library_name?: string;
  private?: boolean;
  gated?: boolean | string;
  createdAt?: string;
  lastModified?: string;
}

export interface HfModelInfo extends HfSearchItem {
  sha?: string;
  siblings?: Array<{ rfilename: string }>;
  cardData?: Record<string, unknown>;
  config?: Record<string, unknown>;
  gguf?: { total?: number; architecture?: string; context_length?: number };
  safetensors?: { parameters?: Record<string, number>; total?: number };
}

export interface HfTreeEntry {
  type: 'file' | 'directory';
  path: string;
  size: number;
  oid?: string;
  lfs?: { oid: string; size: number; pointerSize?: number };
}

export type HfSort = 'downloads' | 'likes' | 'createdAt' | 'lastModified' | 'trendingScore';

/** The `next` URL of an RFC 8288 `Link` header, if any. */
export function nextLink(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header.join(',') : header;
  if (!value) return undefined;
  for (const part of value.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]+)>\s*;(.*)$/.exec(part);
    if (m && /\brel\s*=\s*"?next"?/i.test(m[2])) return m[1];
  }
  return undefined;
}

/**
 * The Hugging Face hub API (or a mirror at HF_ENDPOINT). Every call goes through the guarded
 * outbound client; HF_TOKEN is attached only to requests for the endpoint's own origin (the
 * client also drops it on a redirect to another origin).
 */
@Injectable()
export class HuggingFaceClient {
  private readonly endpoint: URL;
  private readonly token: string | undefined;

  constructor(
    config: AppConfig,
    private readonly http: OutboundHttpClient,
  ) {
    this.endpoint = new URL(config.env.HF_ENDPOINT.replace(/\/+$/, '') + '/');
    this.token = config.env.HF_TOKEN || undefined;
  }

  /** One page of search results, and whether the hub has more after it. */
  async search(q: {
    search?: string;
    sort: HfSort;
    direction: 1 | -1;
    limit: number;
  }): Promise<{ items: HfSearchItem[]; hasMore: boolean }> {
    const url = this.url('api/models');
    if (q.search) url.searchParams.set('search', q.search);
    url.searchParams.set('sort', q.sort);
    url.searchParams.set('direction', String(q.direction));
    url.searchParams.set('limit', String(q.limit));
    const res = await this.get<HfSearchItem[]>(url, 'search');
    if (!Array.isArray(res.body)) throw this.badAnswer('search');
    return { items: res.body, hasMore: nextLink(res.headers.link) !== undefined };
  }

  async modelInfo(repo: string, revision = 'main'): Promise<HfModelInfo> {
    const url = this.url(`api/models/${repoPath(repo)}/revision/${encodeURIComponent(revision)}`);
    const res = await this.get<HfModelInfo>(url, repo);
    if (!res.body || typeof res.body !== 'object') throw this.badAnswer(repo);
    return res.body;
  }

  /** Every file of the repo at `revision`, following the tree's `Link` pages (bounded). */
  async fileTree(repo: string, revision = 'main'): Promise<HfTreeEntry[]> {
    let url: URL | undefined = this.url(
      `api/models/${repoPath(repo)}/tree/${encodeURIComponent(revision)}`,
    );
    url.searchParams.set('recursive', 'true');
    const files: HfTreeEntry[] = [];
    for (let page = 0; url; page++) {
      if (page >= MAX_TREE_PAGES) {
        throw new FailException(`The file list of ${repo} is longer than ${MAX_TREE_PAGES} pages`);
      }
      const res: OutboundResponse<HfTreeEntry[]> = await this.get<HfTreeEntry[]>(url, repo);
      if (!Array.isArray(res.body)) throw this.badAnswer(repo);
      files.push(...res.body.filter((e) => e.type === 'file'));
      const next = nextLink(res.headers.link);
      url = next ? new URL(next, this.endpoint) : undefined;
      // A next page elsewhere would receive the token and widen what we fetch: refuse it.
      if (url && url.origin !== this.endpoint.origin) {
        throw new FailException(`Hugging Face answered a file-list page on another host`);
      }
    }
    return files;
  }

  private url(path: string): URL {
    return new URL(path, this.endpoint);
  }

  private async get<T>(url: URL, what: string): Promise<OutboundResponse<T>> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token && url.origin === this.endpoint.origin) {
      headers.authorization = `Bearer ${this.token}`;
    }
    let res: OutboundResponse<unknown>;
    try {
      res = await this.http.request(url, { headers, responseType: 'json' });
    } catch (e) {
      const err = findOutboundError(e);
      throw new FailException(`Hugging Face request failed: ${err?.message ?? String(e)}`, {
        reason: err?.code ?? 'network',
      });
    }
    if (res.status === 401 || res.status === 403) {
      throw new ForbiddenError(
        `Repository ${what} is gated or private: accept its terms on Hugging Face and set HF_TOKEN`,
        { model_id: what },
      );
    }
    if (res.status === 404) {
      throw new NotFoundError(`Repository ${what} was not found on Hugging Face`, {
        model_id: what,
      });
    }
    if (res.status < 200 || res.status >= 300) {
      throw new FailException(`Hugging Face answered HTTP ${res.status} for ${what}`, {
        status: res.status,
      });
    }
    return res as OutboundResponse<T>;
  }

  private badAnswer(what: string): FailException {
    return new FailException(`Hugging Face gave an unexpected answer for ${what}`);
  }
}

function repoPath(repo: string): string {
  return validateRepoId(repo)
    .split('/')
    .map((p) => encodeURIComponent(p))
    .join('/');
}
