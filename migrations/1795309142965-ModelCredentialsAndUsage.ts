import { MigrationInterface, QueryRunner } from 'typeorm';

export class ModelCredentialsAndUsage1795309142965 implements MigrationInterface {
  name = 'ModelCredentialsAndUsage1795309142965';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "model_credentials" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "account_id" uuid NOT NULL,
                "provider" character varying(32) NOT NULL,
                "secret" text NOT NULL,
                "api_key_hint" character varying(32) NOT NULL DEFAULT '',
                "base_url" character varying(500) NOT NULL DEFAULT '',
                "last_tested_at" TIMESTAMP WITH TIME ZONE,
                "last_test_status" character varying(16),
                "last_test_error" character varying(500),
                CONSTRAINT "PK_d9622454f86b7b5393e5953b8db" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_model_credentials_account_id" ON "model_credentials" ("account_id")
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "uq_model_credentials_account_provider" ON "model_credentials" ("account_id", "provider")
        `);
    await queryRunner.query(`
            CREATE TABLE "model_usages" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "account_id" uuid,
                "provider" character varying(32) NOT NULL,
                "model" character varying(200) NOT NULL,
                "model_type" character varying(16) NOT NULL,
                "source" character varying(64) NOT NULL DEFAULT '',
                "prompt_tokens" integer NOT NULL DEFAULT '0',
                "completion_tokens" integer NOT NULL DEFAULT '0',
                "total_tokens" integer NOT NULL DEFAULT '0',
                "estimated" boolean NOT NULL DEFAULT false,
                "price" numeric(18, 8) NOT NULL DEFAULT '0',
                "currency" character varying(3) NOT NULL DEFAULT 'USD',
                "latency_ms" integer NOT NULL DEFAULT '0',
                "status" character varying(16) NOT NULL DEFAULT 'success',
                "error" text,
                CONSTRAINT "PK_f498606e30684cd5e23e3164d15" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_model_usages_account_created" ON "model_usages" ("account_id", "created_at")
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            DROP INDEX "public"."idx_model_usages_account_created"
        `);
    await queryRunner.query(`
            DROP TABLE "model_usages"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."uq_model_credentials_account_provider"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_model_credentials_account_id"
        `);
    await queryRunner.query(`
            DROP TABLE "model_credentials"
        `);
  }
}
