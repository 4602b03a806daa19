import { ApiProperty } from '@nestjs/swagger';

export class UploadFileDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) account_id: string;
  /** The file's name as uploaded (directories stripped). */
  @ApiProperty() name: string;
  /** Where it is stored. */
  @ApiProperty() key: string;
  /** Bytes. */
  @ApiProperty() size: number;
  /** Lowercase, without the dot. */
  @ApiProperty() extension: string;
  @ApiProperty() mime_type: string;
  /** sha256 of the content (hex). */
  @ApiProperty() hash: string;
  /** Unix seconds. */
  @ApiProperty() created_at: number;
}

export class UploadImageDto {
  /** An absolute URL a browser can load with <img> (no token; unguessable). */
  @ApiProperty() image_url: string;
  @ApiProperty({ format: 'uuid' }) id: string;
}

/** The multipart body of both upload routes. */
export class UploadBodyDto {
  @ApiProperty({ type: 'string', format: 'binary', description: 'The file (one per request)' })
  file: unknown;
}
