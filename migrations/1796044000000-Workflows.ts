import { MigrationInterface, QueryRunner } from 'typeorm';

export class Workflows1796044000000 implements MigrationInterface {
  name = 'Workflows1796044000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "workflows" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "account_id" uuid NOT NULL,
                "name" character varying(50) NOT NULL,
                "tool_call_name" character varying(50) NOT NULL,
                "icon" character varying(1000) NOT NULL DEFAULT '',
                "description" text NOT NULL DEFAULT '',
                "status" character varying(16) NOT NULL DEFAULT 'draft',
                "draft_graph" jsonb NOT NULL DEFAULT '{"edges": [], "nodes": []}',
                "graph" jsonb NOT NULL DEFAULT '{}',
                "is_debug_passed" boolean NOT NULL DEFAULT false,
                "published_at" TIMESTAMP WITH TIME ZONE,
                CONSTRAINT "PK_5b5757cc1cd86268019fef52e0c" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_workflows_account_id" ON "workflows" ("account_id")
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "uq_workflows_account_tool_call_name" ON "workflows" ("account_id", "tool_call_name")
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            DROP INDEX "public"."uq_workflows_account_tool_call_name"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_workflows_account_id"
        `);
    await queryRunner.query(`
            DROP TABLE "workflows"
        `);
  }
}
