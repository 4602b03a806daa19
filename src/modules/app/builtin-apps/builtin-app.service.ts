import { AppConfig } from '@app/config';
import { Injectable } from '@nestjs/common';
import type { CreatedAppDto } from '../dto/app.dto';
import { AppService } from '../services/app.service';
import { BuiltinAppCatalog } from './builtin-app-catalog.service';
import type { BuiltinAppCategoryDto, BuiltinAppDto } from './dto/builtin-app.dto';

/** The builtin apps (templates) as the console lists them, and adding one to a space. */
@Injectable()
export class BuiltinAppService {
  constructor(
    private readonly catalog: BuiltinAppCatalog,
    private readonly apps: AppService,
    private readonly config: AppConfig,
  ) {}

  categories(): BuiltinAppCategoryDto[] {
    return this.catalog.categories.map((c) => ({ category: c.category, name: c.name }));
  }

  /** `origin` (where the request reached us) makes icon URLs absolute without PUBLIC_BASE_URL. */
  list(origin: string): BuiltinAppDto[] {
    return this.catalog.apps.map((a) => ({
      id: a.id,
      category: a.category,
      name: a.name,
      icon: this.iconUrl(a.id, origin),
      description: a.description,
      model_config: {
        provider: a.config.model_config.provider,
        model: a.config.model_config.model,
      },
      created_at: a.created_at,
    }));
  }

  /** A new draft app of the account with the template's name, icon, description and config. */
  addToSpace(accountId: string, builtinAppId: string, origin: string): Promise<CreatedAppDto> {
    const a = this.catalog.app(builtinAppId);
    return this.apps.createWithConfig(
      accountId,
      { name: a.name, icon: this.iconUrl(a.id, origin), description: a.description },
      a.config,
    );
  }

  icon(builtinAppId: string): { bytes: Buffer; type: string } {
    const a = this.catalog.app(builtinAppId);
    return { bytes: a.iconBytes, type: a.iconType };
  }

  private iconUrl(id: string, origin: string): string {
    const base = (this.config.env.PUBLIC_BASE_URL ?? origin).replace(/\/+$/, '');
    return `${base}/builtin-apps/${id}/icon`;
  }
}
