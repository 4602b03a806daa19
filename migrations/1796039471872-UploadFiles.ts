import { MigrationInterface, QueryRunner } from 'typeorm';

export class UploadFiles1796039471872 implements MigrationInterface {
  name = 'UploadFiles1796039471872';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "upload_files" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "account_id" uuid NOT NULL,
                "name" character varying(255) NOT NULL,
                "key" character varying(500) NOT NULL,
                "size" bigint NOT NULL,
                "extension" character varying(16) NOT NULL,
                "mime_type" character varying(128) NOT NULL,
                "hash" character varying(64) NOT NULL,
                "kind" character varying(16) NOT NULL,
                "public_token" character varying(64),
                CONSTRAINT "PK_dae64affe0c302fbf9e0c24d989" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_upload_files_account_id" ON "upload_files" ("account_id")
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "uq_upload_files_public_token" ON "upload_files" ("public_token")
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            DROP INDEX "public"."uq_upload_files_public_token"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_upload_files_account_id"
        `);
    await queryRunner.query(`
            DROP TABLE "upload_files"
        `);
  }
}
