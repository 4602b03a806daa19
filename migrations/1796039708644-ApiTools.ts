import { MigrationInterface, QueryRunner } from 'typeorm';

export class ApiTools1796039708644 implements MigrationInterface {
  name = 'ApiTools1796039708644';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "api_tool_providers" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "account_id" uuid NOT NULL,
                "name" character varying(30) NOT NULL,
                "icon" character varying(1000) NOT NULL,
                "description" text NOT NULL DEFAULT '',
                "openapi_schema" text NOT NULL,
                "headers_sealed" text NOT NULL,
                CONSTRAINT "PK_8a3507d1fe295dd41540b7d7f61" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_api_tool_providers_account_id" ON "api_tool_providers" ("account_id")
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "uq_api_tool_providers_account_name" ON "api_tool_providers" ("account_id", "name")
        `);
    await queryRunner.query(`
            CREATE TABLE "api_tools" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "account_id" uuid NOT NULL,
                "provider_id" uuid NOT NULL,
                "name" character varying(200) NOT NULL,
                "description" text NOT NULL DEFAULT '',
                "method" character varying(10) NOT NULL,
                "server_url" text NOT NULL,
                "path" text NOT NULL,
                "parameters" jsonb NOT NULL DEFAULT '[]',
                "input_schema" jsonb NOT NULL,
                "body_type" character varying(16) NOT NULL DEFAULT '',
                "body_content_type" character varying(100) NOT NULL DEFAULT '',
                "position" integer NOT NULL DEFAULT '0',
                CONSTRAINT "PK_56fbf4d05eb86ce60b8de763fb8" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_api_tools_account_id" ON "api_tools" ("account_id")
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "uq_api_tools_provider_name" ON "api_tools" ("provider_id", "name")
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            DROP INDEX "public"."uq_api_tools_provider_name"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_api_tools_account_id"
        `);
    await queryRunner.query(`
            DROP TABLE "api_tools"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."uq_api_tool_providers_account_name"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_api_tool_providers_account_id"
        `);
    await queryRunner.query(`
            DROP TABLE "api_tool_providers"
        `);
  }
}
