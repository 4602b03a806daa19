import { JobContext, JobProcessor, Processor } from '@app/queue';
import { Injectable } from '@nestjs/common';
import type { CreatedAppDto } from '../dto/app.dto';
import { AppService } from '../services/app.service';

/**
 * The assistant agent's "create an app" (queue `app`): a draft app with the name, description
 * and preset prompt the assistant wrote. Idempotent: the app id is in the payload.
 */
@Injectable()
@Processor('app.create-app')
export class CreateAppProcessor implements JobProcessor<'app.create-app'> {
  constructor(private readonly apps: AppService) {}

  process(ctx: JobContext<'app.create-app'>): Promise<CreatedAppDto> {
    const p = ctx.payload;
    return this.apps.createWithPrompt(
      p.account_id,
      p.app_id,
      { name: p.name, icon: p.icon, description: p.description },
      p.preset_prompt,
    );
  }
}
