import { MigrationInterface, QueryRunner } from 'typeorm';

export class ApiKeySealed1796034144161 implements MigrationInterface {
  name = 'ApiKeySealed1796034144161';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            ALTER TABLE "api_keys"
            ADD "key_sealed" text
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            ALTER TABLE "api_keys" DROP COLUMN "key_sealed"
        `);
  }
}
