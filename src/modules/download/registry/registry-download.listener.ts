import { safeError } from '@app/common';
import { Injectable, Logger } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import {
  DOWNLOAD_COMPLETED_EVENT,
  type DownloadCompletedEvent,
} from '../tasks/download-task.service';
import { ModelRegistryService } from './model-registry.service';

/** A finished download becomes (or updates) a `downloaded` registry entry. */
@Injectable()
export class RegistryDownloadListener {
  private readonly logger = new Logger('RegistryDownloadListener');

  constructor(private readonly registry: ModelRegistryService) {}

  @OnEvent(DOWNLOAD_COMPLETED_EVENT, { async: true, promisify: true })
  async onCompleted(e: DownloadCompletedEvent): Promise<void> {
    try {
      await this.registry.recordLocal({
        source: e.source === 'ollama' ? 'ollama' : 'huggingface',
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
}
