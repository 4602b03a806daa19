import {
  AdminOnly,
  ApiEnvelope,
  ConsolePost,
  CurrentAccount,
  CurrentPrincipal,
  type AuthPrincipal,
  type Page,
} from '@app/common';
import { Body, Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import {
  CreateDownloadReqDto,
  DownloadQueueDto,
  DownloadStorageDto,
  DownloadTaskDto,
  ListDownloadsReqDto,
} from '../dto/download-task.dto';
import { DownloadTaskService } from './download-task.service';

@ApiTags('downloads')
@ApiBearerAuth('jwt')
@Controller('downloads')
export class DownloadTaskController {
  constructor(private readonly downloads: DownloadTaskService) {}

  @ConsolePost('', 'Download started')
  @AdminOnly()
  @ApiOperation({
    operationId: 'createDownload',
    summary:
      'Queue a download (admins). Hugging Face: resolve the files (globs) at one commit and check ' +
      'the free disk. Ollama: check the name and that Ollama answers; the job pulls through it',
  })
  @ApiEnvelope(DownloadTaskDto)
  create(
    @CurrentAccount() accountId: string,
    @Body() body: CreateDownloadReqDto,
  ): Promise<DownloadTaskDto> {
    return this.downloads.create(accountId, body);
  }

  @Get()
  @ApiOperation({ operationId: 'listDownloads', summary: 'Download tasks, newest first' })
  @ApiEnvelope(DownloadTaskDto, { paginated: true })
  list(
    @CurrentPrincipal() principal: AuthPrincipal,
    @Query() q: ListDownloadsReqDto,
  ): Promise<Page<DownloadTaskDto>> {
    return this.downloads.list(principal, q);
  }

  @Get('queue')
  @ApiOperation({
    operationId: 'getDownloadQueue',
    summary: 'Tasks downloading now and those waiting, with their queue positions',
  })
  @ApiEnvelope(DownloadQueueDto)
  queue(@CurrentPrincipal() principal: AuthPrincipal): Promise<DownloadQueueDto> {
    return this.downloads.queueView(principal);
  }

  @Get('storage')
  @ApiOperation({
    operationId: 'getDownloadStorage',
    summary:
      'Disk used under MODELS_DIR and the free space of its file system (read at most every 5 s; the path itself only for admins)',
  })
  @ApiEnvelope(DownloadStorageDto)
  storage(@CurrentPrincipal() principal: AuthPrincipal): Promise<DownloadStorageDto> {
    return this.downloads.storage(principal);
  }

  @Get(':id')
  @ApiOperation({ operationId: 'getDownload', summary: 'One download task with per-file progress' })
  @ApiEnvelope(DownloadTaskDto)
  get(
    @CurrentPrincipal() principal: AuthPrincipal,
    @Param('id') id: string,
  ): Promise<DownloadTaskDto> {
    return this.downloads.get(principal, id);
  }

  @ConsolePost(':id/pause', 'Download paused')
  @AdminOnly()
  @ApiOperation({
    operationId: 'pauseDownload',
    summary: 'Stop; partial files stay for a resume (Ollama: the pull stream is closed)',
  })
  @ApiEnvelope()
  async pause(@CurrentPrincipal() p: AuthPrincipal, @Param('id') id: string): Promise<void> {
    await this.downloads.pause(p, id);
  }

  @ConsolePost(':id/resume', 'Download resumed')
  @AdminOnly()
  @ApiOperation({
    operationId: 'resumeDownload',
    summary:
      'Queue a paused or failed download again; it continues from the partial files (Ollama: ' +
      'pulls again, reusing its partial blobs)',
  })
  @ApiEnvelope()
  async resume(@CurrentPrincipal() p: AuthPrincipal, @Param('id') id: string): Promise<void> {
    await this.downloads.resume(p, id);
  }

  @ConsolePost(':id/cancel', 'Download cancelled')
  @AdminOnly()
  @ApiOperation({
    operationId: 'cancelDownload',
    summary:
      'Stop and remove the partial files (Ollama: the pull stream is closed; Ollama prunes its own partial blobs)',
  })
  @ApiEnvelope()
  async cancel(@CurrentPrincipal() p: AuthPrincipal, @Param('id') id: string): Promise<void> {
    await this.downloads.cancel(p, id);
  }

  @ConsolePost(':id/delete', 'Download deleted')
  @AdminOnly()
  @ApiOperation({
    operationId: 'deleteDownload',
    summary:
      'Stop, remove the task and its files (partial and, when finished, the snapshot; Ollama: ' +
      'a finished pull deletes the model from Ollama, unless another finished task pulled it too)',
  })
  @ApiEnvelope()
  async delete(@CurrentPrincipal() p: AuthPrincipal, @Param('id') id: string): Promise<void> {
    await this.downloads.delete(p, id);
  }
}
