import { MigrationInterface, QueryRunner } from 'typeorm';

export class WorkflowRuns1796044084059 implements MigrationInterface {
  name = 'WorkflowRuns1796044084059';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "workflow_results" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "account_id" uuid NOT NULL,
                "run_id" uuid NOT NULL,
                "node_id" text NOT NULL,
                "node_type" character varying(32) NOT NULL,
                "title" text NOT NULL DEFAULT '',
                "status" character varying(16) NOT NULL,
                "inputs" jsonb NOT NULL DEFAULT '{}',
                "outputs" jsonb NOT NULL DEFAULT '{}',
                "handle" text,
                "handled_by" character varying(32),
                "error" text NOT NULL DEFAULT '',
                "retries" integer NOT NULL DEFAULT '0',
                "latency" double precision NOT NULL DEFAULT '0',
                "started_at" TIMESTAMP WITH TIME ZONE,
                "finished_at" TIMESTAMP WITH TIME ZONE,
                CONSTRAINT "PK_48366b44b6ec8f96a2f25903dea" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_workflow_results_account_id" ON "workflow_results" ("account_id")
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "uq_workflow_results_run_node" ON "workflow_results" ("run_id", "node_id")
        `);
    await queryRunner.query(`
            CREATE TABLE "workflow_runs" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "account_id" uuid NOT NULL,
                "workflow_id" uuid NOT NULL,
                "source" character varying(16) NOT NULL,
                "status" character varying(16) NOT NULL DEFAULT 'running',
                "inputs" jsonb NOT NULL DEFAULT '{}',
                "outputs" jsonb NOT NULL DEFAULT '{}',
                "error" text NOT NULL DEFAULT '',
                "started_at" TIMESTAMP WITH TIME ZONE,
                "finished_at" TIMESTAMP WITH TIME ZONE,
                "latency" double precision NOT NULL DEFAULT '0',
                "graph" jsonb NOT NULL,
                CONSTRAINT "PK_eea9f8d0a660b3f48114c313233" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_workflow_runs_account_id" ON "workflow_runs" ("account_id")
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_workflow_runs_status" ON "workflow_runs" ("status")
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_workflow_runs_workflow_created" ON "workflow_runs" ("workflow_id", "created_at")
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            DROP INDEX "public"."idx_workflow_runs_workflow_created"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_workflow_runs_status"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_workflow_runs_account_id"
        `);
    await queryRunner.query(`
            DROP TABLE "workflow_runs"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."uq_workflow_results_run_node"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_workflow_results_account_id"
        `);
    await queryRunner.query(`
            DROP TABLE "workflow_results"
        `);
  }
}
