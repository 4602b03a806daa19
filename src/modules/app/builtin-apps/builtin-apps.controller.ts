import { ApiEnvelope, ConsolePost, CurrentAccount, Public, RawResponse } from '@app/common';
import { Body, Controller, Get, Header, Param, Req, StreamableFile } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { CreatedAppDto } from '../dto/app.dto';
import { BuiltinAppService } from './builtin-app.service';
import {
  AddBuiltinAppToSpaceDto,
  BuiltinAppCategoryDto,
  BuiltinAppDto,
} from './dto/builtin-app.dto';

/** Where the console reached us: template icons are absolute URLs. */
function originOf(req: Request): string {
  return `${req.protocol}://${req.get('host') ?? 'localhost'}`;
}

/** The builtin apps (CONSOLE-SHAPES §4.8): templates with categories, and add-to-space. */
@ApiTags('builtin-apps')
@ApiBearerAuth('jwt')
@Controller('builtin-apps')
export class BuiltinAppsController {
  constructor(private readonly builtin: BuiltinAppService) {}

  @Get('categories')
  @ApiOperation({
    operationId: 'listBuiltinAppCategories',
    summary: 'Categories of the builtin apps (a plain array)',
  })
  @ApiEnvelope(BuiltinAppCategoryDto, { isArray: true })
  categories(): BuiltinAppCategoryDto[] {
    return this.builtin.categories();
  }

  @Get()
  @ApiOperation({
    operationId: 'listBuiltinApps',
    summary: 'The builtin apps (templates), in their order (a plain array)',
  })
  @ApiEnvelope(BuiltinAppDto, { isArray: true })
  list(@Req() req: Request): BuiltinAppDto[] {
    return this.builtin.list(originOf(req));
  }

  @ConsolePost('add-builtin-app-to-space', 'Builtin app added to your space')
  @ApiOperation({
    operationId: 'addBuiltinAppToSpace',
    summary:
      'Create a draft app of yours from a builtin app: its name, icon, description and whole draft config; answers the new id',
  })
  @ApiEnvelope(CreatedAppDto)
  add(
    @CurrentAccount() accountId: string,
    @Body() body: AddBuiltinAppToSpaceDto,
    @Req() req: Request,
  ): Promise<CreatedAppDto> {
    return this.builtin.addToSpace(accountId, body.builtin_app_id, originOf(req));
  }

  /** Ours: the icon the list and the added app point to (loaded by <img>, so no token). */
  @Public()
  @RawResponse()
  @Get(':builtin_app_id/icon')
  @Header('Cache-Control', 'public, max-age=86400')
  @ApiProduces('image/svg+xml', 'image/png')
  @ApiOperation({ operationId: 'builtinAppIcon', summary: 'A builtin app’s icon (image bytes)' })
  icon(@Param('builtin_app_id') id: string): StreamableFile {
    const { bytes, type } = this.builtin.icon(id);
    return new StreamableFile(bytes, { type, length: bytes.length });
  }
}
