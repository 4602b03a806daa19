import { MigrationInterface, QueryRunner } from 'typeorm';

export class AppAnalyses1796050778261 implements MigrationInterface {
  name = 'AppAnalyses1796050778261';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "app_analyses" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "account_id" uuid NOT NULL,
                "app_id" uuid NOT NULL,
                "day" character varying(10) NOT NULL,
                "data" jsonb NOT NULL,
                CONSTRAINT "PK_4ee5b5813b0602d65f7536b748d" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_app_analyses_account_id" ON "app_analyses" ("account_id")
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "uq_app_analyses_app_day" ON "app_analyses" ("app_id", "day")
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            DROP INDEX "public"."uq_app_analyses_app_day"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_app_analyses_account_id"
        `);
    await queryRunner.query(`
            DROP TABLE "app_analyses"
        `);
  }
}
