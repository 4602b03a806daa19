import { MigrationInterface, QueryRunner } from 'typeorm';

export class ModelRegistry1796046848102 implements MigrationInterface {
  name = 'ModelRegistry1796046848102';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "model_favorites" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "account_id" uuid NOT NULL,
                "model_entry_id" uuid NOT NULL,
                CONSTRAINT "PK_23daea3add19d000346d169f0e5" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_model_favorites_account_id" ON "model_favorites" ("account_id")
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_model_favorites_model_entry_id" ON "model_favorites" ("model_entry_id")
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "uq_model_favorites_account_entry" ON "model_favorites" ("account_id", "model_entry_id")
        `);
    await queryRunner.query(`
            CREATE TABLE "model_entries" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "account_id" uuid,
                "source" character varying(16) NOT NULL,
                "model_id" character varying(255) NOT NULL,
                "name" character varying(255) NOT NULL DEFAULT '',
                "author" character varying(255) NOT NULL DEFAULT '',
                "format" character varying(16) NOT NULL DEFAULT 'other',
                "pipeline_tag" character varying(64) NOT NULL DEFAULT '',
                "parameter_count" bigint,
                "quantization" character varying(32) NOT NULL DEFAULT '',
                "context_length" integer,
                "size" bigint NOT NULL DEFAULT '0',
                "tags" jsonb NOT NULL DEFAULT '[]',
                "downloads" bigint NOT NULL DEFAULT '0',
                "likes" integer NOT NULL DEFAULT '0',
                "status" character varying(16) NOT NULL DEFAULT 'remote',
                "revision" character varying(255) NOT NULL DEFAULT '',
                "local_path" character varying(1000) NOT NULL DEFAULT '',
                "last_synced_at" TIMESTAMP WITH TIME ZONE,
                CONSTRAINT "PK_6b8eb8a006413b904f94bf5c508" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_model_entries_account_id" ON "model_entries" ("account_id")
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "uq_model_entries_source_model_id" ON "model_entries" ("source", "model_id")
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            DROP INDEX "public"."uq_model_entries_source_model_id"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_model_entries_account_id"
        `);
    await queryRunner.query(`
            DROP TABLE "model_entries"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."uq_model_favorites_account_entry"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_model_favorites_model_entry_id"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_model_favorites_account_id"
        `);
    await queryRunner.query(`
            DROP TABLE "model_favorites"
        `);
  }
}
