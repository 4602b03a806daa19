import { MigrationInterface, QueryRunner } from 'typeorm';

export class EndUserAccounts1796060000000 implements MigrationInterface {
  name = 'EndUserAccounts1796060000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            ALTER TABLE "end_users"
            ADD "created_by_account" uuid
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "uq_end_users_app_account" ON "end_users" ("app_id", "created_by_account")
            WHERE created_by_account IS NOT NULL
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            DROP INDEX "public"."uq_end_users_app_account"
        `);
    await queryRunner.query(`
            ALTER TABLE "end_users" DROP COLUMN "created_by_account"
        `);
  }
}
