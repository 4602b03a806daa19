import {
  ApiEnvelope,
  ConsolePost,
  CurrentAccount,
  Public,
  RawResponse,
  ValidateError,
} from '@app/common';
import {
  Controller,
  Get,
  Param,
  Req,
  Res,
  StreamableFile,
  UploadedFile,
  UseInterceptors,
} from '@nestjs/common';
import { FileInterceptor } from '@nestjs/platform-express';
import {
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiOperation,
  ApiProduces,
  ApiTags,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { UploadBodyDto, UploadFileDto, UploadImageDto } from './dto/upload-file.dto';
import { UploadErrorsInterceptor } from './upload-errors.interceptor';
import { UploadFileService } from './upload-file.service';
import { extensionProblem, type UploadKind } from './upload-rules';
import type { StoredUpload } from './upload-storage.engine';

/** Refuses a wrong extension before a byte is stored. */
function extensionFilter(kind: UploadKind) {
  return (
    _req: unknown,
    file: { originalname: string },
    cb: (err: Error | null, accept: boolean) => void,
  ) => {
    const problem = extensionProblem(kind, file.originalname);
    cb(problem ? new ValidateError({ file: [problem] }) : null, !problem);
  };
}

function originOf(req: Request): string {
  return `${req.protocol}://${req.get('host') ?? 'localhost'}`;
}

/**
 * Uploads, multipart with one field `file`. HTTP 200 always (the console's XHR accepts nothing
 * else); size from UPLOAD_MAX_BYTES; content checked, not only the extension.
 */
@ApiTags('upload-files')
@ApiBearerAuth('jwt')
@Controller('upload-files')
export class UploadFileController {
  constructor(private readonly uploads: UploadFileService) {}

  @ConsolePost('file', 'File uploaded')
  @UseInterceptors(
    UploadErrorsInterceptor,
    FileInterceptor('file', { fileFilter: extensionFilter('document') }),
  )
  @ApiConsumes('multipart/form-data')
  @ApiBody({ type: UploadBodyDto })
  @ApiOperation({
    operationId: 'uploadFile',
    summary:
      'Upload a document (txt, md, markdown, pdf, html, htm, docx, doc, csv, xlsx, xls, json)',
  })
  @ApiEnvelope(UploadFileDto)
  async uploadFile(
    @CurrentAccount() accountId: string,
    @UploadedFile() file: StoredUpload | undefined,
  ): Promise<UploadFileDto> {
    return this.uploads.toDto(await this.uploads.accept(accountId, 'document', file));
  }

  @ConsolePost('image', 'Image uploaded')
  @UseInterceptors(
    UploadErrorsInterceptor,
    FileInterceptor('file', { fileFilter: extensionFilter('image') }),
  )
  @ApiConsumes('multipart/form-data')
  @ApiBody({ type: UploadBodyDto })
  @ApiOperation({
    operationId: 'uploadImage',
    summary: 'Upload an image (jpg, jpeg, png, webp, gif, svg); answers its public URL',
  })
  @ApiEnvelope(UploadImageDto)
  async uploadImage(
    @CurrentAccount() accountId: string,
    @UploadedFile() file: StoredUpload | undefined,
    @Req() req: Request,
  ): Promise<UploadImageDto> {
    const row = await this.uploads.accept(accountId, 'image', file);
    return { id: row.id, image_url: this.uploads.imageUrl(row, originOf(req)) };
  }

  /** An uploaded image by its public URL (loaded by <img>, so no token: the URL is the secret). */
  @Public()
  @RawResponse()
  @Get('images/:token')
  @ApiProduces('image/png', 'image/jpeg', 'image/webp', 'image/gif', 'image/svg+xml')
  @ApiOperation({ operationId: 'uploadedImage', summary: 'An uploaded image (image bytes)' })
  async image(
    @Param('token') token: string,
    @Res({ passthrough: true }) res: Response,
  ): Promise<StreamableFile> {
    const { file, body } = await this.uploads.publicImage(token);
    // Never rendered as a page: an SVG's scripts cannot run, nothing is sniffed into HTML.
    res.setHeader(
      'Content-Security-Policy',
      "default-src 'none'; style-src 'unsafe-inline'; sandbox",
    );
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
    return new StreamableFile(body, { type: file.mime_type, length: file.size });
  }

  @Get(':upload_file_id')
  @ApiOperation({ operationId: 'getUploadFile', summary: 'One of your uploads' })
  @ApiEnvelope(UploadFileDto)
  async get(
    @CurrentAccount() accountId: string,
    @Param('upload_file_id') id: string,
  ): Promise<UploadFileDto> {
    return this.uploads.toDto(await this.uploads.get(accountId, id));
  }

  /** The bytes of one of your uploads, as an attachment. */
  @RawResponse()
  @Get(':upload_file_id/content')
  @ApiProduces('application/octet-stream')
  @ApiOperation({ operationId: 'downloadUploadFile', summary: 'Download one of your uploads' })
  async content(
    @CurrentAccount() accountId: string,
    @Param('upload_file_id') id: string,
    @Res({ passthrough: true }) res: Response,
  ): Promise<StreamableFile> {
    const file = await this.uploads.get(accountId, id);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
    return new StreamableFile(await this.uploads.open(file), {
      type: file.mime_type,
      length: file.size,
      disposition: `attachment; filename*=UTF-8''${encodeURIComponent(file.name)}`,
    });
  }
}
