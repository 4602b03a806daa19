import { MigrationInterface, QueryRunner } from 'typeorm';

export class EndUsers1796052052684 implements MigrationInterface {
  name = 'EndUsers1796052052684';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "end_users" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "account_id" uuid NOT NULL,
                "app_id" uuid NOT NULL,
                CONSTRAINT "PK_6c40dcf89afaac08b0b653de008" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_end_users_account_id" ON "end_users" ("account_id")
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_end_users_app_id" ON "end_users" ("app_id")
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            DROP INDEX "public"."idx_end_users_app_id"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_end_users_account_id"
        `);
    await queryRunner.query(`
            DROP TABLE "end_users"
        `);
  }
}
