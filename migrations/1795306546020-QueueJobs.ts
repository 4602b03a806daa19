import { MigrationInterface, QueryRunner } from 'typeorm';

export class QueueJobs1795306546020 implements MigrationInterface {
  name = 'QueueJobs1795306546020';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "queue_jobs" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "queue" character varying(32) NOT NULL,
                "name" character varying(64) NOT NULL,
                "key" character varying(255),
                "account_id" uuid,
                "payload" jsonb NOT NULL DEFAULT '{}',
                "status" character varying(16) NOT NULL DEFAULT 'queued',
                "progress" real NOT NULL DEFAULT '0',
                "progress_message" character varying(500),
                "attempts" integer NOT NULL DEFAULT '0',
                "max_attempts" integer NOT NULL DEFAULT '3',
                "backoff_ms" integer NOT NULL DEFAULT '1000',
                "timeout_ms" integer NOT NULL,
                "cancel_requested" boolean NOT NULL DEFAULT false,
                "result" jsonb,
                "error" text,
                "started_at" TIMESTAMP WITH TIME ZONE,
                "finished_at" TIMESTAMP WITH TIME ZONE,
                CONSTRAINT "PK_1f912c285a3c500184671553bca" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_queue_jobs_account_id" ON "queue_jobs" ("account_id")
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "uq_queue_jobs_active_key" ON "queue_jobs" ("key")
            WHERE "status" IN ('queued', 'running')
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_queue_jobs_status" ON "queue_jobs" ("status", "queue")
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            DROP INDEX "public"."idx_queue_jobs_status"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."uq_queue_jobs_active_key"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_queue_jobs_account_id"
        `);
    await queryRunner.query(`
            DROP TABLE "queue_jobs"
        `);
  }
}
