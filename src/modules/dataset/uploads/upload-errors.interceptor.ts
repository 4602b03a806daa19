import { ValidateError } from '@app/common';
import {
  BadRequestException,
  CallHandler,
  ExecutionContext,
  Injectable,
  NestInterceptor,
  PayloadTooLargeException,
} from '@nestjs/common';
import { catchError, Observable, throwError } from 'rxjs';
import { AppConfig } from '@app/config';

/**
 * Wraps multer (FileInterceptor) so its refusals reach the console as validate_error with HTTP
 * 200 and a message to show: the console's upload client treats any other status as a network
 * failure and would show nothing useful.
 */
@Injectable()
export class UploadErrorsInterceptor implements NestInterceptor {
  constructor(private readonly config: AppConfig) {}

  intercept(_ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle().pipe(
      catchError((err: unknown) => {
        if (err instanceof PayloadTooLargeException) {
          const mb = Math.round((this.config.env.UPLOAD_MAX_BYTES / (1024 * 1024)) * 10) / 10;
          return throwError(
            () => new ValidateError({ file: [`The file is larger than ${mb} MB`] }),
          );
        }
        if (err instanceof BadRequestException) {
          // Multer's words (Unexpected field, Too many files/parts/fields, Malformed part header).
          return throwError(
            () =>
              new ValidateError({
                file: [`Send exactly one file in a multipart field named "file" (${err.message})`],
              }),
          );
        }
        return throwError(() => err);
      }),
    );
  }
}
