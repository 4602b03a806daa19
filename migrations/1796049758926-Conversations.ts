import { MigrationInterface, QueryRunner } from 'typeorm';

export class Conversations1796049758926 implements MigrationInterface {
  name = 'Conversations1796049758926';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            CREATE TABLE "conversations" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "account_id" uuid NOT NULL,
                "app_id" uuid,
                "name" character varying(255) NOT NULL DEFAULT 'New Conversation',
                "summary" text NOT NULL DEFAULT '',
                "is_pinned" boolean NOT NULL DEFAULT false,
                "is_deleted" boolean NOT NULL DEFAULT false,
                "invoke_from" character varying(32) NOT NULL,
                "created_by" uuid NOT NULL,
                CONSTRAINT "PK_ee34f4f7ced4ec8681f26bf04ef" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_conversations_created_by" ON "conversations" ("created_by", "is_deleted")
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_conversations_app_created" ON "conversations" ("app_id", "created_at")
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_conversations_account_invoke" ON "conversations" ("account_id", "invoke_from", "is_deleted")
        `);
    await queryRunner.query(`
            CREATE TABLE "messages" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "account_id" uuid NOT NULL,
                "app_id" uuid,
                "conversation_id" uuid NOT NULL,
                "invoke_from" character varying(32) NOT NULL,
                "created_by" uuid NOT NULL,
                "query" text NOT NULL DEFAULT '',
                "image_urls" jsonb NOT NULL DEFAULT '[]',
                "answer" text NOT NULL DEFAULT '',
                "message_token_count" integer NOT NULL DEFAULT '0',
                "answer_token_count" integer NOT NULL DEFAULT '0',
                "total_token_count" integer NOT NULL DEFAULT '0',
                "total_price" numeric(18, 7) NOT NULL DEFAULT '0',
                "latency" double precision NOT NULL DEFAULT '0',
                "status" character varying(16) NOT NULL DEFAULT 'normal',
                "error" text NOT NULL DEFAULT '',
                "is_deleted" boolean NOT NULL DEFAULT false,
                CONSTRAINT "PK_18325f38ae6de43878487eff986" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_messages_account_id" ON "messages" ("account_id")
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_messages_app_created" ON "messages" ("app_id", "created_at")
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_messages_conversation_created" ON "messages" ("conversation_id", "created_at")
        `);
    await queryRunner.query(`
            CREATE TABLE "message_agent_thoughts" (
                "id" uuid NOT NULL DEFAULT gen_random_uuid(),
                "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
                "account_id" uuid NOT NULL,
                "message_id" uuid NOT NULL,
                "conversation_id" uuid NOT NULL,
                "position" integer NOT NULL,
                "event" character varying(32) NOT NULL,
                "thought" text NOT NULL DEFAULT '',
                "observation" text NOT NULL DEFAULT '',
                "tool" character varying(255) NOT NULL DEFAULT '',
                "tool_input" jsonb NOT NULL DEFAULT '{}',
                "total_token_count" integer NOT NULL DEFAULT '0',
                "total_price" numeric(18, 7) NOT NULL DEFAULT '0',
                "latency" double precision NOT NULL DEFAULT '0',
                CONSTRAINT "PK_1c070ca9fd2dcc0d8b2309cf069" PRIMARY KEY ("id")
            )
        `);
    await queryRunner.query(`
            CREATE INDEX "idx_message_agent_thoughts_message_position" ON "message_agent_thoughts" ("message_id", "position")
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            DROP INDEX "public"."idx_message_agent_thoughts_message_position"
        `);
    await queryRunner.query(`
            DROP TABLE "message_agent_thoughts"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_messages_conversation_created"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_messages_app_created"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_messages_account_id"
        `);
    await queryRunner.query(`
            DROP TABLE "messages"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_conversations_account_invoke"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_conversations_app_created"
        `);
    await queryRunner.query(`
            DROP INDEX "public"."idx_conversations_created_by"
        `);
    await queryRunner.query(`
            DROP TABLE "conversations"
        `);
  }
}
