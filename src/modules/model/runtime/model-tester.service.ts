import { FailException } from '@app/common';
import { Injectable } from '@nestjs/common';
import { ModelCatalog } from '../catalog/model-catalog.service';
import { CredentialsService } from '../credentials.service';
import { CredentialTestResultDto } from '../dto/credential.dto';
import { modelErrorMessage } from './model-error';
import { ModelRuntime } from './model-runtime.service';
import { messagesPackage } from './provider-packages';

/** One cheap call to tell whether a provider's credentials work. */
@Injectable()
export class ModelTester {
  constructor(
    private readonly catalog: ModelCatalog,
    private readonly runtime: ModelRuntime,
    private readonly credentials: CredentialsService,
  ) {}

  async test(
    accountId: string,
    providerName: string,
    modelName?: string,
  ): Promise<CredentialTestResultDto> {
    const provider = this.catalog.provider(providerName);
    const model = modelName ?? provider.models.find((m) => m.model_type === 'chat')?.model_name;
    if (!model)
      throw new FailException(
        `Name a model to test ${provider.label} with (body: {"model": "..."})`,
      );
    // An unknown model is a mistake in the request (not_found), not a failed credential test.
    const maxTokens = this.catalog
      .model(providerName, model, 'chat')
      .parameters.some((p) => p.name === 'max_tokens');
    const started = performance.now();
    let error: string | null = null;
    try {
      const { model: chat } = await this.runtime.chat(
        { provider: providerName, model, parameters: maxTokens ? { max_tokens: 1 } : {} },
        { accountId, source: 'credentials.test', timeoutMs: 20_000, maxRetries: 0 },
      );
      await chat.invoke([new (messagesPackage().HumanMessage)('ping')]);
    } catch (err) {
      if (err instanceof FailException && /not configured/.test(err.message)) throw err;
      // Says why a connection was refused; never echoes the upstream's body.
      error = modelErrorMessage(err);
    }
    await this.credentials.recordTest(accountId, providerName, !error, error);
    return {
      ok: !error,
      provider: providerName,
      model,
      latency_ms: Math.round(performance.now() - started),
      error,
    };
  }
}
