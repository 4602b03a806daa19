import { MigrationInterface, QueryRunner } from 'typeorm';

export class DownloadTasks1796046000000 implements MigrationInterface {
  name = 'DownloadTasks1796046000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "download_tasks" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "account_id" uuid NOT NULL,
                "source" character varying(32) NOT NULL,
                "model_id" character varying(255) NOT NULL,
                "revision" character varying(255) NOT NULL,
                "commit" character varying(64) NOT NULL,
                "file_patterns" jsonb NOT NULL DEFAULT '[]',
                "plan" jsonb NOT NULL,
                "status" character varying(16) NOT NULL DEFAULT 'pending',
                "progress" double precision NOT NULL DEFAULT '0',
                "downloaded_bytes" bigint NOT NULL DEFAULT '0',
                "total_bytes" bigint NOT NULL DEFAULT '0',
                "speed" double precision NOT NULL DEFAULT '0',
                "eta" integer,
                "error" text NOT NULL DEFAULT '',
                "file_progress" jsonb NOT NULL DEFAULT '[]',
                "started_at" TIMESTAMP WITH TIME ZONE,
                "finished_at" TIMESTAMP WITH TIME ZONE,
                CONSTRAINT "PK_download_tasks_id" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(
      `CREATE INDEX "idx_download_tasks_account_id" ON "download_tasks" ("account_id")`,
    );
    await queryRunner.query(
      `CREATE INDEX "idx_download_tasks_status_created" ON "download_tasks" ("status", "created_at")`,
    );
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX "public"."idx_download_tasks_status_created"`);
    await queryRunner.query(`DROP INDEX "public"."idx_download_tasks_account_id"`);
    await queryRunner.query(`DROP TABLE "download_tasks"`);
  }
}
