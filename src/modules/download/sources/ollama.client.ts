import { FailException, NotFoundError } from '@app/common';
import { AppConfig } from '@app/config';
import { findOutboundError, OutboundHttpClient, type OutboundResponse } from '@app/http';
import { Injectable, type OnApplicationShutdown } from '@nestjs/common';

export const DEFAULT_OLLAMA_URL = 'http://127.0.0.1:11434';

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

  private async call<T>(path: string, json: unknown, what: string): Promise<OutboundResponse<T>> {
    let res: OutboundResponse<unknown>;
    try {
      res = await this.http.request(new URL(path, this.base), {
        method: json === undefined ? 'GET' : 'POST',
        ...(json === undefined ? {} : { json }),
        responseType: 'json',
      });
    } catch (e) {
      const err = findOutboundError(e);
      throw new FailException(`Ollama request failed: ${err?.message ?? String(e)}`, {
        reason: err?.code ?? 'network',
      });
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
