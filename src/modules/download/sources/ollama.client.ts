import { FailException, NotFoundError } from '@app/common';
import { AppConfig } from '@app/config';
import {
  findOutboundError,
  OutboundHttpClient,
  type OutboundResponse,
  type OutboundStreamResponse,
} from '@app/http';
import { Injectable, type OnApplicationShutdown } from '@nestjs/common';

export const DEFAULT_OLLAMA_URL = 'http://127.0.0.1:11434';
/** Error bodies read from Ollama before a stream starts; an `{"error": ...}` is a few bytes. */
const ERROR_BODY_BYTES = 64 * 1024;
/**
 * A pull may run for hours: the caller's idle timer (no line for a while) and its abort signal
 * end it, so the client's own deadline only has to be out of their way.
 */
const PULL_DEADLINE_MS = 7 * 24 * 3_600_000;

export interface OllamaDetails {
  format?: string;
  family?: string;
  families?: string[];
  parameter_size?: string;
  quantization_level?: string;
}

export interface OllamaTag {
  name: string;
  model?: string;
  modified_at?: string;
  size?: number;
  digest?: string;
  details?: OllamaDetails;
}

export interface OllamaShow {
  details?: OllamaDetails;
  model_info?: Record<string, unknown>;
  capabilities?: string[];
  modified_at?: string;
}

/**
 * The local Ollama server (OLLAMA_BASE_URL, the same setting the chat provider uses). Ollama has
 * no search API for its online library, so "search" here is a filter of the local tags.
 * Its host is set by the operator and usually loopback: the guarded client allows that one host
 * (as the model runtime trusts server-configured URLs) and still checks every redirect.
 */
@Injectable()
export class OllamaClient implements OnApplicationShutdown {
  private readonly base: URL;
  private readonly http: OutboundHttpClient;

  constructor(config: AppConfig) {
    this.base = new URL(
      (config.env.OLLAMA_BASE_URL || DEFAULT_OLLAMA_URL).replace(/\/+$/, '') + '/',
    );
    this.http = OutboundHttpClient.fromConfig(config, {
      allowHosts: [...config.env.OUTBOUND_ALLOW_HOSTS, this.base.hostname.replace(/^\[|\]$/g, '')],
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.http.close();
  }

  async tags(): Promise<OllamaTag[]> {
    const res = await this.call<{ models?: OllamaTag[] }>('api/tags', undefined, 'tags');
    return Array.isArray(res.body?.models) ? res.body.models : [];
  }

  async show(model: string): Promise<OllamaShow> {
    const res = await this.call<OllamaShow>('api/show', { model }, model);
    return res.body ?? {};
  }

  /** Reachability check (`GET /api/version`); answers Ollama's version. */
  async version(): Promise<string> {
    const res = await this.call<{ version?: string }>('api/version', undefined, 'version');
    return typeof res.body?.version === 'string' ? res.body.version : '';
  }

  /**
   * `POST /api/pull {model, stream: true}`: resolves once Ollama answers 2xx, with the NDJSON
   * body to read line by line (the caller checks every line for `error`). A non-2xx answer is
   * thrown with Ollama's `error` text.
   */
  async pull(model: string, signal: AbortSignal): Promise<OutboundStreamResponse> {
    let res: OutboundStreamResponse;
    try {
      res = await this.http.stream(new URL('api/pull', this.base), {
        method: 'POST',
        json: { model, stream: true },
        signal,
        timeoutMs: PULL_DEADLINE_MS,
        retries: 0,
      });
    } catch (e) {
      throw this.failure(e);
    }
    if (res.status < 200 || res.status >= 300) {
      const text = await readCapped(res.body, ERROR_BODY_BYTES).catch(() => '');
      res.abort();
      throw new FailException(
        `Ollama refused to pull ${model}: ${errorText(text) ?? `HTTP ${res.status}`}`,
      );
    }
    return res;
  }

  /**
   * `DELETE /api/delete {model}`: removes the model (its manifest; Ollama prunes blobs no other
   * model uses). Answers false when Ollama does not have it.
   */
  async deleteModel(model: string): Promise<boolean> {
    let res: OutboundResponse<string>;
    try {
      res = await this.http.request(new URL('api/delete', this.base), {
        method: 'DELETE',
        json: { model },
        responseType: 'text',
        maxResponseBytes: ERROR_BODY_BYTES,
      });
    } catch (e) {
      throw this.failure(e);
    }
    if (res.status === 404) return false;
    if (res.status < 200 || res.status >= 300) {
      throw new FailException(
        `Ollama could not delete ${model}: ${errorText(res.body) ?? `HTTP ${res.status}`}`,
      );
    }
    return true;
  }

  private failure(e: unknown): FailException {
    const err = findOutboundError(e);
    return new FailException(`Ollama request failed: ${err?.message ?? String(e)}`, {
      reason: err?.code ?? 'network',
    });
  }

  private async call<T>(path: string, json: unknown, what: string): Promise<OutboundResponse<T>> {
    let res: OutboundResponse<unknown>;
    try {
      res = await this.http.request(new URL(path, this.base), {
        method: json === undefined ? 'GET' : 'POST',
        ...(json === undefined ? {} : { json }),
        responseType: 'json',
      });
    } catch (e) {
      throw this.failure(e);
    }
    if (res.status === 404) {
      throw new NotFoundError(`Model ${what} is not in the local Ollama library`, {
        model_id: what,
      });
    }
    if (res.status < 200 || res.status >= 300) {
      throw new FailException(`Ollama answered HTTP ${res.status} for ${what}`);
    }
    return res as OutboundResponse<T>;
  }
}

/** Ollama's `{"error": "..."}` text (bounded), or null when the body is not that. */
export function errorText(body: string): string | null {
  try {
    const parsed = JSON.parse(body) as { error?: unknown };
    if (
      parsed &&
      typeof parsed === 'object' &&
      parsed.error !== undefined &&
      parsed.error !== null
    ) {
      const e = typeof parsed.error === 'string' ? parsed.error : JSON.stringify(parsed.error);
      return e.slice(0, 500);
    }
  } catch {
    // not JSON
  }
  return null;
}

async function readCapped(body: AsyncIterable<Buffer>, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= limit) break;
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}
