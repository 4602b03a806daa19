import { safeError } from '@app/common';
import { Injectable, Logger } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import {
  DOWNLOAD_COMPLETED_EVENT,
  type DownloadCompletedEvent,
} from '../tasks/download-task.service';
import {
  OLLAMA_MODEL_REMOVED_EVENT,
  type OllamaModelRemovedEvent,
} from '../tasks/ollama-pull.runner';
import { ModelRegistryService } from './model-registry.service';

/**
 * A finished download becomes (or updates) a `downloaded` registry entry: a Hugging Face snapshot
 * with metadata read from its files, an Ollama pull with what Ollama lists for it. An Ollama model
 * deleted through its task turns `remote` again (as a sync would find it).
 */
@Injectable()
export class RegistryDownloadListener {
  private readonly logger = new Logger('RegistryDownloadListener');

  constructor(private readonly registry: ModelRegistryService) {}

  @OnEvent(DOWNLOAD_COMPLETED_EVENT, { async: true, promisify: true })
  async onCompleted(e: DownloadCompletedEvent): Promise<void> {
    try {
      if (e.source === 'ollama') {
        await this.registry.recordOllamaPull({
          model_id: e.model_id,
          account_id: e.account_id,
          total_size: e.files.reduce((n, f) => n + f.size, 0),
        });
        return;
      }
      await this.registry.recordLocal({
        source: 'huggingface',
        model_id: e.model_id,
        revision: e.revision,
        commit: e.commit,
        path: e.local_path,
        files: e.files.map((f) => f.path),
        total_size: e.files.reduce((n, f) => n + f.size, 0),
        account_id: e.account_id,
      });
    } catch (err) {
      // The files are on disk and the task is completed; the entry can be recorded by a later
      // look-up, so a failure here is logged, not raised into the download.
      this.logger.warn({ err: safeError(err), model: e.model_id }, 'Could not record the download');
    }
  }

  @OnEvent(OLLAMA_MODEL_REMOVED_EVENT, { async: true, promisify: true })
  async onOllamaRemoved(e: OllamaModelRemovedEvent): Promise<void> {
    try {
      await this.registry.markOllamaRemoved(e.model_id);
    } catch (err) {
      this.logger.warn({ err: safeError(err), model: e.model_id }, 'Could not update the entry');
    }
  }
}
