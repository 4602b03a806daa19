import { MigrationInterface, QueryRunner } from 'typeorm';

export class Apps1796049509935 implements MigrationInterface {
  name = 'Apps1796049509935';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "app_config_versions" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "account_id" uuid NOT NULL,
                "app_id" uuid NOT NULL,
                "config_type" character varying(16) NOT NULL,
                "version" integer NOT NULL DEFAULT '0',
                "model_config" jsonb NOT NULL,
                "dialog_round" integer NOT NULL DEFAULT '3',
                "preset_prompt" text NOT NULL DEFAULT '',
                "tools" jsonb NOT NULL DEFAULT '[]',
                "workflows" jsonb NOT NULL DEFAULT '[]',
                "datasets" jsonb NOT NULL DEFAULT '[]',
                "retrieval_config" jsonb NOT NULL,
                "long_term_memory" jsonb NOT NULL,
                "opening_statement" text NOT NULL DEFAULT '',
                "opening_questions" jsonb NOT NULL DEFAULT '[]',
                "speech_to_text" jsonb NOT NULL,
                "text_to_speech" jsonb NOT NULL,
                "suggested_after_answer" jsonb NOT NULL,
                "review_config" jsonb NOT NULL,
                CONSTRAINT "PK_019912e2f848f969db3b998077c" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_app_config_versions_account_id" ON "app_config_versions" ("account_id")
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "uq_app_config_versions_app_type_version" ON "app_config_versions" ("app_id", "config_type", "version")
        `);
    await queryRunner.query(`
            CREATE TABLE "apps" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "account_id" uuid NOT NULL,
                "name" character varying(40) NOT NULL,
                "icon" character varying(1000) NOT NULL DEFAULT '',
                "description" text NOT NULL DEFAULT '',
                "status" character varying(16) NOT NULL DEFAULT 'draft',
                "published_config_id" uuid,
                "debug_conversation_id" uuid,
                "token" character varying(16),
                CONSTRAINT "PK_c5121fda0f8268f1f7f84134e19" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_apps_account_id" ON "apps" ("account_id")
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "uq_apps_token" ON "apps" ("token")
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            DROP INDEX "public"."uq_apps_token"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_apps_account_id"
        `);
    await queryRunner.query(`
            DROP TABLE "apps"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."uq_app_config_versions_app_type_version"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_app_config_versions_account_id"
        `);
    await queryRunner.query(`
            DROP TABLE "app_config_versions"
        `);
  }
}
