import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Extensions every later migration relies on: vectors and trigram search. `gen_random_uuid()` is
 * built into PostgreSQL 13+, so `pgcrypto` is not created any more (loading it cost the embedded
 * database ~40 MB of memory); databases created before keep it, and `down` still drops it.
 */
export class Extensions1763769600000 implements MigrationInterface {
  name = 'Extensions1763769600000';

  public async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`CREATE EXTENSION IF NOT EXISTS "vector"`);
    await queryRunner.query(`CREATE EXTENSION IF NOT EXISTS "pg_trgm"`);
  }

  public async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP EXTENSION IF EXISTS "pgcrypto"`);
    await queryRunner.query(`DROP EXTENSION IF EXISTS "pg_trgm"`);
    await queryRunner.query(`DROP EXTENSION IF EXISTS "vector"`);
  }
}
