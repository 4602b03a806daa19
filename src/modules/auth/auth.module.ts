import { AccessTokenVerifier } from '@app/common';
import { AppConfig } from '@app/config';
import { Global, Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { JwtAccessTokenVerifier } from './jwt-access-token.verifier';

/**
 * Auth area. For now it provides the access-token verifier shared by HTTP guards and the
 * socket.io handshake; accounts, sessions and API keys come with the auth issue.
 */
@Global()
@Module({
  imports: [
    JwtModule.registerAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        secret: config.env.JWT_SECRET,
        signOptions: { algorithm: 'HS256', expiresIn: '2h' },
      }),
    }),
  ],
  providers: [{ provide: AccessTokenVerifier, useClass: JwtAccessTokenVerifier }],
  exports: [AccessTokenVerifier, JwtModule],
})
export class AuthModule {}
