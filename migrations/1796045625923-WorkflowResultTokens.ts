import { MigrationInterface, QueryRunner } from 'typeorm';

export class WorkflowResultTokens1796045625923 implements MigrationInterface {
  name = 'WorkflowResultTokens1796045625923';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            ALTER TABLE "workflow_results"
            ADD "tokens" integer NOT NULL DEFAULT '0'
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            ALTER TABLE "workflow_results" DROP COLUMN "tokens"
        `);
  }
}
