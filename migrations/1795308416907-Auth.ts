import { MigrationInterface, QueryRunner } from 'typeorm';

export class Auth1795308416907 implements MigrationInterface {
  name = 'Auth1795308416907';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "account_oauth" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "account_id" uuid NOT NULL,
                "provider" character varying(32) NOT NULL,
                "openid" character varying(255) NOT NULL,
                CONSTRAINT "PK_58ace25bda64a7ee9b04df7c88d" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_account_oauth_account_id" ON "account_oauth" ("account_id")
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "uq_account_oauth_provider_openid" ON "account_oauth" ("provider", "openid")
        `);
    await queryRunner.query(`
            CREATE TABLE "accounts" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "email" character varying(254) NOT NULL,
                "name" character varying(30) NOT NULL DEFAULT '',
                "avatar" character varying(500) NOT NULL DEFAULT '',
                "password_hash" text,
                "role" character varying(16) NOT NULL DEFAULT 'member',
                "last_login_at" TIMESTAMP WITH TIME ZONE,
                "last_login_ip" character varying(64) NOT NULL DEFAULT '',
                CONSTRAINT "PK_5a7a02c20412299d198e097a8fe" PRIMARY KEY ("id")
            )
        `);
    // Email is unique case-insensitively; TypeORM cannot express this index (synchronize: false).
    await queryRunner.query(`
            CREATE UNIQUE INDEX "uq_accounts_email_lower" ON "accounts" (lower("email"))
        `);
    await queryRunner.query(`
            CREATE TABLE "api_keys" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "account_id" uuid NOT NULL,
                "key_hash" character(64) NOT NULL,
                "hint" character varying(40) NOT NULL,
                "remark" character varying(100) NOT NULL DEFAULT '',
                "is_active" boolean NOT NULL DEFAULT true,
                "last_used_at" TIMESTAMP WITH TIME ZONE,
                CONSTRAINT "PK_5c8a79801b44bd27b79228e1dad" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_api_keys_account_id" ON "api_keys" ("account_id")
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "uq_api_keys_key_hash" ON "api_keys" ("key_hash")
        `);
    await queryRunner.query(`
            CREATE TABLE "auth_sessions" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "account_id" uuid NOT NULL,
                "user_agent" character varying(500) NOT NULL DEFAULT '',
                "ip" character varying(64) NOT NULL DEFAULT '',
                "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL,
                "revoked_at" TIMESTAMP WITH TIME ZONE,
                "revoked_reason" character varying(32),
                CONSTRAINT "PK_641507381f32580e8479efc36cd" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_auth_sessions_account_id" ON "auth_sessions" ("account_id")
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_auth_sessions_expires_at" ON "auth_sessions" ("expires_at")
        `);
    await queryRunner.query(`
            CREATE TABLE "auth_login_failures" (
                "subject" character varying(300) NOT NULL,
                "failures" integer NOT NULL DEFAULT '0',
                "window_started_at" TIMESTAMP WITH TIME ZONE NOT NULL,
                "locked_until" TIMESTAMP WITH TIME ZONE,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_e021fb2f2f78f7ab8a2967d33ad" PRIMARY KEY ("subject")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_auth_login_failures_window" ON "auth_login_failures" ("window_started_at")
        `);
    await queryRunner.query(`
            CREATE TABLE "auth_oauth_states" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "provider" character varying(32) NOT NULL,
                "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL,
                CONSTRAINT "PK_9386b9ed2a05d0c267cd8cb8517" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_auth_oauth_states_expires_at" ON "auth_oauth_states" ("expires_at")
        `);
    await queryRunner.query(`
            CREATE TABLE "auth_refresh_tokens" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "session_id" uuid NOT NULL,
                "account_id" uuid NOT NULL,
                "token_hash" character(64) NOT NULL,
                "rotated_at" TIMESTAMP WITH TIME ZONE,
                CONSTRAINT "PK_df6893d2063a4ea7bbf1eda31e5" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_auth_refresh_tokens_session_id" ON "auth_refresh_tokens" ("session_id")
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_auth_refresh_tokens_account_id" ON "auth_refresh_tokens" ("account_id")
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "uq_auth_refresh_tokens_hash" ON "auth_refresh_tokens" ("token_hash")
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            DROP INDEX IF EXISTS "public"."uq_accounts_email_lower"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."uq_auth_refresh_tokens_hash"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_auth_refresh_tokens_account_id"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_auth_refresh_tokens_session_id"
        `);
    await queryRunner.query(`
            DROP TABLE "auth_refresh_tokens"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_auth_oauth_states_expires_at"
        `);
    await queryRunner.query(`
            DROP TABLE "auth_oauth_states"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_auth_login_failures_window"
        `);
    await queryRunner.query(`
            DROP TABLE "auth_login_failures"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_auth_sessions_expires_at"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_auth_sessions_account_id"
        `);
    await queryRunner.query(`
            DROP TABLE "auth_sessions"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."uq_api_keys_key_hash"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_api_keys_account_id"
        `);
    await queryRunner.query(`
            DROP TABLE "api_keys"
        `);
    await queryRunner.query(`
            DROP TABLE "accounts"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."uq_account_oauth_provider_openid"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_account_oauth_account_id"
        `);
    await queryRunner.query(`
            DROP TABLE "account_oauth"
        `);
  }
}
