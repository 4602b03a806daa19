import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * At most one open (pending, downloading or paused) download per model and source: two would
 * write the same partial blobs. The service checks before it creates or resumes a task; this
 * index makes the check hold when two requests race (in one process or several). Open duplicates
 * a race left before are failed first (all but the oldest), with a message saying why.
 */
export class DownloadTasksOneOpen1796070000000 implements MigrationInterface {
  name = 'DownloadTasksOneOpen1796070000000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            UPDATE "download_tasks" t
               SET status = 'failed', speed = 0, eta = NULL, finished_at = now(),
                   error = 'Stopped: another download of this model was open at the same time; resume it once that one is finished'
             WHERE t.status IN ('pending', 'downloading', 'paused')
               AND EXISTS (
                 SELECT 1 FROM "download_tasks" o
                  WHERE o.source = t.source AND o.model_id = t.model_id AND o.id <> t.id
                    AND o.status IN ('pending', 'downloading', 'paused')
                    AND (o.created_at, o.id) < (t.created_at, t.id))
        `);
    await queryRunner.query(`
            CREATE UNIQUE INDEX "uq_download_tasks_open_model" ON "download_tasks" ("source", "model_id")
            WHERE status IN ('pending', 'downloading', 'paused')
        `);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
            DROP INDEX "public"."uq_download_tasks_open_model"
        `);
  }
}
