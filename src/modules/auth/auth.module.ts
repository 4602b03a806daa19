import { AccessTokenVerifier, SecretBox } from '@app/common';
import { AppConfig } from '@app/config';
import { DynamicModule, Global, Module, Provider } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { JwtModule } from '@nestjs/jwt';
import { PassportModule } from '@nestjs/passport';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AccountController } from './account.controller';
import { ApiKeyController } from './api-key.controller';
import { AuthController } from './auth.controller';
import { AuthMaintenanceScheduler, PurgeAuthProcessor } from './auth-maintenance';
import { AccountOAuthEntity } from './entities/account-oauth.entity';
import { AccountEntity } from './entities/account.entity';
import { ApiKeyEntity } from './entities/api-key.entity';
import { AuthSessionEntity } from './entities/auth-session.entity';
import { LoginFailureEntity } from './entities/login-failure.entity';
import { OAuthStateEntity } from './entities/oauth-state.entity';
import { RefreshTokenEntity } from './entities/refresh-token.entity';
import { AuthGuard } from './guards/auth.guard';
import { JwtAccessTokenVerifier } from './jwt-access-token.verifier';
import { OAuthController } from './oauth.controller';
import { AccountChanges } from './services/account-changes.service';
import { AccountService } from './services/account.service';
import { ApiKeyRateLimit } from './services/api-key-rate-limit.service';
import { ApiKeyService } from './services/api-key.service';
import { AuthService } from './services/auth.service';
import { GithubOAuthService } from './services/github-oauth.service';
import { LoginThrottleService } from './services/login-throttle.service';
import { OAuthStateService } from './services/oauth-state.service';
import { PasswordService } from './services/password.service';
import { SessionService } from './services/session.service';
import { TokenService } from './services/token.service';
import { AccessTokenStrategy } from './strategies/access-token.strategy';
import { ApiKeyStrategy } from './strategies/api-key.strategy';
import { GithubStrategy } from './strategies/github.strategy';

/**
 * Accounts, password and GitHub sign-in, sessions with rotating refresh tokens, API keys, and the
 * global guard (@nestjs/passport strategies `access-token`, `api-key`, `github`). Other modules use `@Public()`, `@ApiKeyAuth()`, `@AdminOnly()` and
 * `@CurrentAccount()` from @app/common, and AccountService for account lookups.
 */
@Global()
@Module({})
export class AuthModule {
  static forRoot(config: AppConfig): DynamicModule {
    const providers: Provider[] = [
      AccountChanges,
      AccountService,
      ApiKeyService,
      ApiKeyRateLimit,
      AuthService,
      GithubOAuthService,
      LoginThrottleService,
      OAuthStateService,
      PasswordService,
      SessionService,
      TokenService,
      AccessTokenStrategy,
      ApiKeyStrategy,
      GithubStrategy,
      PurgeAuthProcessor,
      SecretBox,
      { provide: AccessTokenVerifier, useClass: JwtAccessTokenVerifier },
      { provide: APP_GUARD, useClass: AuthGuard },
    ];
    if (config.hasRole('api')) providers.push(AuthMaintenanceScheduler);
    return {
      module: AuthModule,
      global: true,
      imports: [
        // Stateless: tokens and keys on every request, no passport session.
        PassportModule.register({ session: false }),
        TypeOrmModule.forFeature([
          AccountEntity,
          AccountOAuthEntity,
          ApiKeyEntity,
          AuthSessionEntity,
          LoginFailureEntity,
          OAuthStateEntity,
          RefreshTokenEntity,
        ]),
        JwtModule.registerAsync({
          inject: [AppConfig],
          useFactory: (cfg: AppConfig) => ({
            secret: cfg.env.JWT_SECRET,
            signOptions: { algorithm: 'HS256' },
            verifyOptions: { algorithms: ['HS256'] },
          }),
        }),
      ],
      controllers: [AuthController, AccountController, OAuthController, ApiKeyController],
      providers,
      exports: [AccessTokenVerifier, AccountChanges, AccountService, ApiKeyService, JwtModule],
    };
  }
}
