import { Injectable } from '@nestjs/common';
import { AuthGuard as PassportAuthGuard } from '@nestjs/passport';
import { GITHUB_STRATEGY, passportOutcome } from '../strategies/passport-support';

/** Runs the `github` strategy; its errors answer as the sign-in always did (fail, not_found, ...). */
@Injectable()
export class GithubAuthGuard extends PassportAuthGuard(GITHUB_STRATEGY) {
  override handleRequest<TUser>(err: unknown, user: unknown, info: unknown): TUser {
    return passportOutcome<TUser>(err, user, info);
  }
}
