import { MigrationInterface, QueryRunner } from 'typeorm';

export class McpTools1796039743145 implements MigrationInterface {
  name = 'McpTools1796039743145';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "mcp_providers" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "account_id" uuid NOT NULL,
                "name" character varying(30) NOT NULL,
                "icon" character varying(1000) NOT NULL DEFAULT '',
                "description" text NOT NULL DEFAULT '',
                "url" character varying(2000) NOT NULL,
                "transport" character varying(32) NOT NULL,
                "headers" text NOT NULL,
                "last_error" character varying(500),
                "tools_refreshed_at" TIMESTAMP WITH TIME ZONE,
                CONSTRAINT "PK_af13c0e8ede75097af10f043695" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_mcp_providers_account_id" ON "mcp_providers" ("account_id")
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "uq_mcp_providers_account_name" ON "mcp_providers" ("account_id", "name")
        `);
    await queryRunner.query(`
            CREATE TABLE "mcp_tools" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "account_id" uuid NOT NULL,
                "provider_id" uuid NOT NULL,
                "name" character varying(200) NOT NULL,
                "description" text NOT NULL DEFAULT '',
                "input_schema" jsonb NOT NULL,
                "inputs" jsonb NOT NULL DEFAULT '[]',
                "annotations" jsonb NOT NULL DEFAULT '{}',
                CONSTRAINT "PK_cf33dbb75ade8797a531295e5e7" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_mcp_tools_account_id" ON "mcp_tools" ("account_id")
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "uq_mcp_tools_provider_name" ON "mcp_tools" ("provider_id", "name")
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            DROP INDEX "public"."uq_mcp_tools_provider_name"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_mcp_tools_account_id"
        `);
    await queryRunner.query(`
            DROP TABLE "mcp_tools"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."uq_mcp_providers_account_name"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_mcp_providers_account_id"
        `);
    await queryRunner.query(`
            DROP TABLE "mcp_providers"
        `);
  }
}
