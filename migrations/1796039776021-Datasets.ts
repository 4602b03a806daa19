import { MigrationInterface, QueryRunner } from 'typeorm';

export class Datasets1796039776021 implements MigrationInterface {
  name = 'Datasets1796039776021';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "dataset_queries" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "account_id" uuid NOT NULL,
                "dataset_id" uuid NOT NULL,
                "query" character varying(1000) NOT NULL,
                "source" character varying(16) NOT NULL,
                "source_app_id" uuid,
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                CONSTRAINT "PK_dc6a96f3348ca94e5fdce215d1b" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_dataset_queries_account_id" ON "dataset_queries" ("account_id")
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_dataset_queries_dataset_created" ON "dataset_queries" ("dataset_id", "created_at")
        `);
    await queryRunner.query(`
            CREATE TABLE "datasets" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "account_id" uuid NOT NULL,
                "name" character varying(100) NOT NULL,
                "icon" character varying(500) NOT NULL DEFAULT '',
                "description" text NOT NULL DEFAULT '',
                "indexing_mode" character varying(16) NOT NULL DEFAULT 'high_quality',
                "embedding_provider" character varying(32) NOT NULL DEFAULT '',
                "embedding_model" character varying(200) NOT NULL DEFAULT '',
                "embedding_dims" integer,
                "retrieval_config" jsonb NOT NULL,
                CONSTRAINT "PK_1bf831e43c559a240303e23d038" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_datasets_account_id" ON "datasets" ("account_id")
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "uq_datasets_account_name" ON "datasets" ("account_id", "name")
        `);
    await queryRunner.query(`
            CREATE TABLE "documents" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "account_id" uuid NOT NULL,
                "dataset_id" uuid NOT NULL,
                "upload_file_id" uuid NOT NULL,
                "batch" character varying(32) NOT NULL,
                "name" character varying(255) NOT NULL,
                "position" integer NOT NULL,
                "process_rule" jsonb NOT NULL,
                "status" character varying(16) NOT NULL DEFAULT 'waiting',
                "error" text NOT NULL DEFAULT '',
                "character_count" integer NOT NULL DEFAULT '0',
                "token_count" integer NOT NULL DEFAULT '0',
                "hit_count" integer NOT NULL DEFAULT '0',
                "enabled" boolean NOT NULL DEFAULT true,
                "disabled_at" TIMESTAMP WITH TIME ZONE,
                "processing_started_at" TIMESTAMP WITH TIME ZONE,
                "parsing_completed_at" TIMESTAMP WITH TIME ZONE,
                "splitting_completed_at" TIMESTAMP WITH TIME ZONE,
                "indexing_completed_at" TIMESTAMP WITH TIME ZONE,
                "completed_at" TIMESTAMP WITH TIME ZONE,
                "stopped_at" TIMESTAMP WITH TIME ZONE,
                CONSTRAINT "PK_ac51aa5181ee2036f5ca482857c" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_documents_account_id" ON "documents" ("account_id")
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_documents_dataset_batch" ON "documents" ("dataset_id", "batch")
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "uq_documents_dataset_position" ON "documents" ("dataset_id", "position")
        `);
    await queryRunner.query(`
            CREATE TABLE "segments" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "account_id" uuid NOT NULL,
                "dataset_id" uuid NOT NULL,
                "document_id" uuid NOT NULL,
                "position" integer NOT NULL,
                "content" text NOT NULL,
                "hash" character varying(64) NOT NULL,
                "keywords" jsonb NOT NULL DEFAULT '[]',
                "character_count" integer NOT NULL DEFAULT '0',
                "token_count" integer NOT NULL DEFAULT '0',
                "hit_count" integer NOT NULL DEFAULT '0',
                "enabled" boolean NOT NULL DEFAULT true,
                "disabled_at" TIMESTAMP WITH TIME ZONE,
                "status" character varying(16) NOT NULL DEFAULT 'waiting',
                "error" text NOT NULL DEFAULT '',
                "indexing_completed_at" TIMESTAMP WITH TIME ZONE,
                "completed_at" TIMESTAMP WITH TIME ZONE,
                "stopped_at" TIMESTAMP WITH TIME ZONE,
                "embedding" vector,
                "embedding_dims" integer,
                "search_vector" tsvector,
                CONSTRAINT "PK_beff1eec19679fe8ad4f291f04e" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_segments_account_id" ON "segments" ("account_id")
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_segments_dataset_id" ON "segments" ("dataset_id")
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "uq_segments_document_position" ON "segments" ("document_id", "position")
        `);
    // Full-text search over jieba-segmented text; the entity marks it synchronize: false
    // (TypeORM cannot describe a GIN index). Vector indexes are per dimension, made at run time.
    await queryRunner.query(`
            CREATE INDEX "idx_segments_search_vector" ON "segments" USING gin ("search_vector")
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            DROP INDEX "public"."idx_segments_search_vector"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."uq_segments_document_position"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_segments_dataset_id"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_segments_account_id"
        `);
    await queryRunner.query(`
            DROP TABLE "segments"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."uq_documents_dataset_position"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_documents_dataset_batch"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_documents_account_id"
        `);
    await queryRunner.query(`
            DROP TABLE "documents"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."uq_datasets_account_name"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_datasets_account_id"
        `);
    await queryRunner.query(`
            DROP TABLE "datasets"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_dataset_queries_dataset_created"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_dataset_queries_account_id"
        `);
    await queryRunner.query(`
            DROP TABLE "dataset_queries"
        `);
  }
}
